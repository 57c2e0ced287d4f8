// Starts and stops a real local cluster: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler, each on a free port, so parallel runs in different folders never collide; with
// `node: true` also the machine's one node (node.ts), and then the API server serves on the node
// address too, so that the `kubernetes` Service has a real endpoint for Pods.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureBinaries, type Binaries } from '../kube/build.ts';
import { ensureHostPackages } from '../kube/host-packages.ts';
import { apiRequest, type ApiTarget } from './api-request.ts';
import { readClusterInfo, writeClusterInfo, type ClusterInfo, type NodeInfo } from './cluster-info.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { assertNothingMountedUnder } from './host-state.ts';
import { NODE_ADDRESS } from './node-config.ts';
import { APISERVER_KUBELET_CLIENT, NODE_CLIENTS, NODE_COMPONENTS, NODE_SERVERS, prepareNodeHost, restoreNodeHost, startNode, stopNodeProcesses } from './node.ts';
import { createPki, KUBERNETES_SERVICE_IP, SERVICE_CLUSTER_IP_RANGE, type Pki } from './pki.ts';
import { isRunning, logTail, startDetached, stopProcess, type ComponentProcess, type Started } from './processes.ts';

export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
const FRONT_PROXY_CLIENT = 'front-proxy-client';
const START_TIMEOUT_MS = 240_000;
export const CONTROL_PLANE_COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
const POLL_MS = 200;

export interface StartOptions {
  readonly dir: string;
  /** Also start the machine's one node (default: the control plane alone, Pods stay Pending). */
  readonly node?: boolean;
  /** Progress lines (default: stderr). */
  readonly log?: (line: string) => void;
  /**
   * The controller manager's client limit (`--kube-api-qps`/`--kube-api-burst`). Its default (20/s,
   * burst 30) holds the deployment controller to ~5.5 template changes/s: `npm run bench` raises it.
   * @default the controller manager's own (20, 30)
   */
  readonly controllerManagerClient?: ClientLimit;
}

/** A Kubernetes client's rate limit: requests/s sustained and the burst above it. */
export interface ClientLimit {
  readonly qps: number;
  readonly burst: number;
}

/**
 * Starts a control plane whose state, logs and credentials live in `options.dir` (created; an earlier
 * stopped control plane's folder is wiped). Resolves once it is ready; throws with the log tail of
 * a component that died.
 */
export async function startControlPlane(options: StartOptions): Promise<ClusterInfo> {
  const dir = resolve(options.dir);
  const log = options.log ?? ((line: string): void => void process.stderr.write(`${line}\n`));
  const previous = await readClusterInfo(dir);
  if (previous && previous.processes.some(isRunning)) {
    throw new Error(`A control plane already runs from ${dir} (${previous.server})`);
  }
  if (!previous && (await readdir(dir).catch(() => [])).length > 0) {
    throw new Error(`${dir} is not empty and holds no control plane: refusing to wipe it`);
  }
  const limit = options.controllerManagerClient;
  if (limit !== undefined) assertClientLimit(limit);
  await ensureHostPackages();
  const binaries = await ensureBinaries();
  try {
    return await startOnce(dir, binaries, log, options.node ?? false, limit);
  } catch (error) {
    // A free port can be taken by another process between choosing it and binding it.
    if (!/address already in use/.test(String(error))) throw error;
    log('[cluster] A port was taken meanwhile; starting again on other ports');
    return await startOnce(dir, binaries, log, options.node ?? false, limit);
  }
}

function assertClientLimit(limit: ClientLimit): void {
  if (!(Number.isInteger(limit.qps) && limit.qps > 0 && Number.isInteger(limit.burst) && limit.burst >= limit.qps)) {
    throw new Error(`Invalid controller manager client limit qps=${limit.qps} burst=${limit.burst}: expected positive integers with burst >= qps`);
  }
}

async function startOnce(dir: string, binaries: Binaries, log: (line: string) => void, withNode: boolean, limit: ClientLimit | undefined): Promise<ClusterInfo> {
  const startedAt = Date.now();
  // A killed run in this folder may have left its node's mounts and host changes: undo them first.
  const previous = await readClusterInfo(dir).catch(() => undefined);
  if (previous) await stopCluster(previous);
  await assertNothingMountedUnder(dir);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const started: Started[] = [];
  try {
    if (withNode) await prepareNodeHost(dir);
    return await launchCluster({ dir, binaries, log, withNode, limit }, started, startedAt);
  } catch (error) {
    // Also undoes the node address and the lock when nothing was launched yet.
    await stopCluster({ dir, processes: started });
    throw error;
  }
}

interface LaunchInput {
  readonly dir: string;
  readonly binaries: Binaries;
  readonly log: (line: string) => void;
  readonly withNode: boolean;
  readonly limit: ClientLimit | undefined;
}

async function launchCluster(input: LaunchInput, started: Started[], startedAt: number): Promise<ClusterInfo> {
  const { dir, binaries, log, withNode, limit } = input;
  const host = withNode ? NODE_ADDRESS : '127.0.0.1';

  const pki = await createPki(
    join(dir, 'pki'),
    [
      { user: 'system:kube-controller-manager', groups: [] },
      { user: 'system:kube-scheduler', groups: [] },
      { user: 'kip-agent', groups: ['apiaccess:kip'] },
      { user: FRONT_PROXY_CLIENT, groups: [] },
      ...(withNode ? NODE_CLIENTS : []),
    ],
    withNode ? { apiserverIPs: [NODE_ADDRESS], servers: NODE_SERVERS } : {},
  );
  const tokens = { admin: randomToken(), alice: randomToken() };
  const tokenFile = join(dir, 'tokens.csv');
  // token,user,uid,"groups": alice gets no group beyond system:authenticated, so no rights at all.
  await writeFile(tokenFile, `${tokens.admin},admin,admin,"system:masters"\n${tokens.alice},alice,alice\n`, { mode: 0o600 });
  const auditLog = join(dir, 'audit.log');
  const auditPolicy = join(dir, 'audit-policy.yaml');
  await writeFile(auditPolicy, AUDIT_POLICY);

  const [etcdClient, etcdPeer, kcmPort, schedulerPort] = await freePorts(4);
  const [apiPort] = await freePorts(1, host);
  const server = `https://${host}:${apiPort}`;
  const kubeconfig = (user: string): string => join(dir, `${user}.kubeconfig`);
  await writeKubeconfig(kubeconfig('admin'), { server, caFile: pki.ca.certFile, user: 'admin', credential: { token: tokens.admin } });
  await writeKubeconfig(kubeconfig('alice'), { server, caFile: pki.ca.certFile, user: 'alice', credential: { token: tokens.alice } });
  await writeKubeconfig(kubeconfig('kip-agent'), { server, caFile: pki.ca.certFile, user: 'kip-agent', credential: pki.clients['kip-agent']! });
  for (const [file, user] of [['controller-manager', 'system:kube-controller-manager'], ['scheduler', 'system:kube-scheduler']] as const) {
    await writeKubeconfig(kubeconfig(file), { server, caFile: pki.ca.certFile, user, credential: pki.clients[user]! });
  }

  let node: NodeInfo | undefined;
  const info = (): ClusterInfo => ({
    dir,
    server,
    caFile: pki.ca.certFile,
    kubeconfigs: { admin: kubeconfig('admin'), alice: kubeconfig('alice'), 'kip-agent': kubeconfig('kip-agent') },
    tokens,
    clientCerts: { 'kip-agent': pki.clients['kip-agent']! },
    serviceAccount: { issuer: SERVICE_ACCOUNT_ISSUER, signingKeyFile: pki.serviceAccountKey, publicKeyFile: pki.serviceAccountPublicKey },
    kubernetesServiceIP: KUBERNETES_SERVICE_IP,
    versions: { kubernetes: binaries.kubernetesVersion, etcd: binaries.etcdVersion, coredns: binaries.corednsVersion },
    etcdUrl: `http://127.0.0.1:${etcdClient}`,
    auditLog,
    ...(limit ? { controllerManagerClient: limit } : {}),
    ...(node ? { node } : {}),
    processes: started.map(({ name, pid, binary, logFile }) => ({ name, pid, binary, logFile })),
  });
  const launch = async (name: string, binary: string, args: string[], env?: NodeJS.ProcessEnv): Promise<void> => {
    started.push(startDetached(name, binary, args, join(dir, `${name}.log`), env));
    // Recorded at once, so that an interrupted start can still be stopped by PID.
    await writeClusterInfo(info());
  };
  const admin: ApiTarget = { server, caFile: pki.ca.certFile, token: tokens.admin };
  const deadline = Date.now() + START_TIMEOUT_MS;
  const wait = async (what: string, check: () => Promise<boolean>): Promise<void> => await waitFor(what, started, deadline, check);
  await launch('etcd', binaries.etcd, etcdArgs(dir, etcdClient!, etcdPeer!));
  await wait('etcd to be healthy', async () => await etcdHealthy(etcdClient!));
  await launch('kube-apiserver', binaries.kubeApiserver, apiserverArgs({ dir, pki, tokenFile, auditPolicy, auditLog, etcdClient: etcdClient!, port: apiPort!, host, withNode }));
  await wait('kube-apiserver /readyz', async () => await ok(admin, '/readyz'));
  await launch('kube-controller-manager', binaries.kubeControllerManager, controllerManagerArgs(dir, pki, kubeconfig('controller-manager'), kcmPort!, limit));
  await launch('kube-scheduler', binaries.kubeScheduler, schedulerArgs(kubeconfig('scheduler'), schedulerPort!));
  await wait('the default ServiceAccount', async () => await ok(admin, '/api/v1/namespaces/default/serviceaccounts/default'));
  await wait('the kube-root-ca.crt ConfigMap', async () => await ok(admin, '/api/v1/namespaces/default/configmaps/kube-root-ca.crt'));
  if (withNode) {
    const nodeStarted = Date.now();
    node = await startNode({ dir, binaries, pki, server, admin, launch, waitFor: wait, freePort: async () => (await freePorts(1))[0]! });
    await writeClusterInfo(info());
    log(`[cluster] Node ${node.name} Ready in ${seconds(nodeStarted)} (kubelet ${node.kubeletVersion}, containerd at ${node.containerdAddress})`);
  }
  log(`[cluster] Kubernetes ${binaries.kubernetesVersion} (etcd ${binaries.etcdVersion}) ready at ${server} in ${seconds(startedAt)}`);
  return info();
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)}s`;
}

/**
 * Level Metadata for every request (who, with which credential, on what): tests read
 * `user.extra["authentication.kubernetes.io/credential-id"]` from it. The kubelet's lease renewals
 * every 10 s and event writes would only bury that.
 */
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  userGroups: [system:nodes]
  verbs: [get, update]
  resources: [{group: coordination.k8s.io, resources: [leases]}]
- level: None
  verbs: [get, update, patch]
  resources: [{group: "", resources: [events]}, {group: events.k8s.io, resources: [events]}]
- level: Metadata
`;

/** Stops the components in reverse start order; the folder stays (logs help after a failure). */
export async function stopControlPlane(info: Pick<ClusterInfo, 'processes'>): Promise<void> {
  for (const proc of [...info.processes].reverse()) await stopProcess(proc);
}

/**
 * Stops everything (the node first) and, when this folder holds the machine's node, restores the
 * host as recorded before `up`: also what a killed run left behind. Returns what it restored.
 */
export async function stopCluster(info: Pick<ClusterInfo, 'dir' | 'processes'>): Promise<string[]> {
  await stopNodeProcesses(info.processes);
  await stopControlPlane(info);
  const kubeProxy = info.processes.find((p) => p.name === 'kube-proxy')?.binary;
  return await restoreNodeHost({ dir: info.dir, ...(kubeProxy ? { kubeProxy } : {}) });
}

/** The components a complete cluster of this shape runs. */
export function expectedComponents(info: Pick<ClusterInfo, 'node'>): readonly string[] {
  return info.node ? [...CONTROL_PLANE_COMPONENTS, ...NODE_COMPONENTS] : CONTROL_PLANE_COMPONENTS;
}

export function runningProcesses(info: Pick<ClusterInfo, 'processes'>): ComponentProcess[] {
  return info.processes.filter(isRunning);
}

function etcdArgs(dir: string, client: number, peer: number): string[] {
  const clientUrl = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  return [
    '--name=local',
    `--data-dir=${join(dir, 'etcd-data')}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=local=${peerUrl}`,
    // A throw-away test store: durability across power loss is worth nothing, speed is.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
}

interface ApiserverInput {
  readonly dir: string;
  readonly pki: Pki;
  readonly tokenFile: string;
  readonly auditPolicy: string;
  readonly auditLog: string;
  readonly etcdClient: number;
  readonly port: number;
  /** 127.0.0.1, or the node address */
  readonly host: string;
  readonly withNode: boolean;
}

function apiserverArgs(input: ApiserverInput): string[] {
  const { dir, pki } = input;
  return [
    `--etcd-servers=http://127.0.0.1:${input.etcdClient}`,
    `--bind-address=${input.host}`,
    `--secure-port=${input.port}`,
    `--advertise-address=${input.host}`,
    ...(input.withNode
      ? [
          // The kubelet API: the API server's own client certificate, the kubelet's serving certificate verified.
          `--kubelet-client-certificate=${pki.clients[APISERVER_KUBELET_CLIENT]!.certFile}`,
          `--kubelet-client-key=${pki.clients[APISERVER_KUBELET_CLIENT]!.keyFile}`,
          `--kubelet-certificate-authority=${pki.ca.certFile}`,
          '--kubelet-preferred-address-types=InternalIP',
        ]
      : [
          // The endpoint reconciler would publish 127.0.0.1 as the `kubernetes` Endpoints, which the API
          // rejects (loopback); without a node nothing in a Pod could use them anyway.
          '--endpoint-reconciler-type=none',
        ]),
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    `--cert-dir=${join(dir, 'kube-apiserver')}`,
    `--tls-cert-file=${pki.serving.certFile}`,
    `--tls-private-key-file=${pki.serving.keyFile}`,
    `--client-ca-file=${pki.ca.certFile}`,
    `--token-auth-file=${input.tokenFile}`,
    '--authorization-mode=Node,RBAC',
    // On top of the default plugins (ServiceAccount, ValidatingAdmissionPolicy, ...), as kubeadm does.
    '--enable-admission-plugins=NodeRestriction',
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${pki.serviceAccountPublicKey}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    // The front-proxy settings a kubeadm cluster has: the aggregator and every delegated
    // authenticator (kube-controller-manager's included) expect them.
    `--requestheader-client-ca-file=${pki.ca.certFile}`,
    `--requestheader-allowed-names=${FRONT_PROXY_CLIENT}`,
    '--requestheader-username-headers=X-Remote-User',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    `--proxy-client-cert-file=${pki.clients[FRONT_PROXY_CLIENT]!.certFile}`,
    `--proxy-client-key-file=${pki.clients[FRONT_PROXY_CLIENT]!.keyFile}`,
    `--audit-policy-file=${input.auditPolicy}`,
    `--audit-log-path=${input.auditLog}`,
    // Whole events, written as they happen: tests read the file while the server runs.
    '--audit-log-mode=blocking',
    '--audit-log-maxsize=0',
    '--allow-privileged=true',
    '--profiling=false',
    '--v=1',
  ];
}

function controllerManagerArgs(dir: string, pki: Pki, kubeconfig: string, port: number, limit: ClientLimit | undefined): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    '--leader-elect=false',
    '--controllers=*',
    `--root-ca-file=${pki.ca.certFile}`,
    `--service-account-private-key-file=${pki.serviceAccountKey}`,
    // Each controller acts as its own ServiceAccount, as in kubeadm clusters.
    '--use-service-account-credentials=true',
    `--cluster-signing-cert-file=${pki.ca.certFile}`,
    `--cluster-signing-key-file=${pki.ca.keyFile}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    // Its self-signed serving certificate would otherwise land in /var/run/kubernetes.
    `--cert-dir=${join(dir, 'kube-controller-manager')}`,
    ...(limit ? [`--kube-api-qps=${limit.qps}`, `--kube-api-burst=${limit.burst}`] : []),
    '--v=1',
  ];
}

function schedulerArgs(kubeconfig: string, port: number): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    '--leader-elect=false',
    '--v=1',
  ];
}

async function waitFor(what: string, started: readonly Started[], deadline: number, check: () => Promise<boolean>): Promise<void> {
  let died: Started | undefined;
  let reason = '';
  for (const proc of started) {
    void proc.exited.then((r) => {
      died ??= proc;
      reason ||= r;
    });
  }
  for (;;) {
    if (died) {
      throw new Error(`${died.name} ${reason} while waiting for ${what}; last lines of ${died.logFile}:\n${await logTail(died.logFile)}`);
    }
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) {
      const tails = await Promise.all(started.map(async (p) => `--- ${p.logFile}\n${await logTail(p.logFile)}`));
      throw new Error(`Timed out waiting for ${what}\n${tails.join('\n')}`);
    }
    await sleep(POLL_MS);
  }
}

async function etcdHealthy(port: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) });
  return res.ok && ((await res.json()) as { health?: string }).health === 'true';
}

async function ok(target: ApiTarget, path: string): Promise<boolean> {
  return (await apiRequest(target, 'GET', path, undefined, 5_000)).status === 200;
}

/** Free ports on `host`, all held open until every one is chosen so that none repeats. */
async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = createServer();
      await new Promise<void>((res, rej) => server.once('error', rej).listen(0, host, res));
      return server;
    }),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map(async (s) => await new Promise<void>((res) => s.close(() => res()))));
  return ports;
}

function randomToken(): string {
  return randomBytes(24).toString('hex');
}

