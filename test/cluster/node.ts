// The local cluster's one node: containerd (Debian) with runc and the bridge CNI plugin, the kubelet
// and kube-proxy (iptables mode) of the cluster's Kubernetes version, and CoreDNS as a host process
// behind the `kube-dns` Service. The host state it changes is recorded before and restored by
// `teardownNode`, also after a killed run (see host-state.ts and node-lock.ts).
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Binaries } from '../kube/build.ts';
import { ensurePauseImage, PAUSE_IMAGE_REF } from '../images/pause.ts';
import { importImage } from '../images/load.ts';
import { apiJson, apiRequest, type ApiTarget } from './api-request.ts';
import { readClusterInfo, type ClusterInfo, type NodeInfo } from './cluster-info.ts';
import { hostPath, mustRunHost, runHost } from './host-command.ts';
import { readHostState, recordHostState, restoreHostState, type HostState } from './host-state.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import {
  CLUSTER_DNS_IP,
  CLUSTER_DOMAIN,
  cniConfList,
  containerdConfig,
  corefile,
  kubeletConfig,
  kubeProxyConfig,
  NODE_ADDRESS,
  NODE_BRIDGE,
  nodePaths,
  POD_CIDR,
  type NodePaths,
} from './node-config.ts';
import { acquireNodeLock, readNodeLock, recordInNodeLock, releaseNodeLock, type NodeLock } from './node-lock.ts';
import type { ClientIdentity, Pki, ServerIdentity } from './pki.ts';
import { isRunning, stopProcess, type ComponentProcess } from './processes.ts';

export const NODE_COMPONENTS = ['containerd', 'kubelet', 'kube-proxy', 'coredns'] as const;
export const NODE_NAME = NODE_ADDRESS;

const KUBELET_USER = `system:node:${NODE_NAME}`;
const KUBE_PROXY_USER = 'system:kube-proxy';
const COREDNS_USER = 'apiaccess:coredns';
/** kubeadm's name for the API server's client certificate towards kubelets. */
export const APISERVER_KUBELET_CLIENT = 'kube-apiserver-kubelet-client';
const MANAGED_BY = 'apiaccess-local-cluster';
/**
 * No registry is reachable and none may be tried: a Pod naming an image that was not imported fails
 * at once with "proxyconnect ... connection refused" (ErrImagePull) instead of containerd resolving
 * and dialling the registry's public address.
 */
const NO_REGISTRY = { HTTPS_PROXY: 'http://127.0.0.1:9', HTTP_PROXY: 'http://127.0.0.1:9', NO_PROXY: '' };
/** Unix socket paths are limited to 108 bytes; containerd adds `.ttrpc`. */
const MAX_SOCKET_PATH = 100;

/** Client certificates the node's components and the API server (towards the kubelet) need. */
export const NODE_CLIENTS: readonly ClientIdentity[] = [
  { user: KUBELET_USER, groups: ['system:nodes'] },
  { user: KUBE_PROXY_USER, groups: [] },
  { user: COREDNS_USER, groups: [] },
  { user: APISERVER_KUBELET_CLIENT, groups: [] },
];
export const NODE_SERVERS: readonly ServerIdentity[] = [{ name: 'kubelet', commonName: NODE_NAME, ips: [NODE_ADDRESS] }];

export interface NodeStartContext {
  readonly dir: string;
  readonly binaries: Binaries;
  readonly pki: Pki;
  readonly server: string;
  readonly admin: ApiTarget;
  readonly freePort: () => Promise<number>;
  readonly launch: (name: string, binary: string, args: string[], env?: NodeJS.ProcessEnv) => Promise<void>;
  readonly waitFor: (what: string, check: () => Promise<boolean>) => Promise<void>;
}

/**
 * Before anything on the host changes: the machine's node slot (cleaning up after a dead owner),
 * the host record, then the node address. Throws NodeBusyError when a live cluster holds the node.
 */
export async function prepareNodeHost(dir: string): Promise<HostState> {
  const paths = nodePaths(dir);
  if (paths.containerdAddress.length > MAX_SOCKET_PATH) {
    throw new Error(`The cluster folder ${dir} is too long for containerd's socket ${paths.containerdAddress} (at most ${MAX_SOCKET_PATH} bytes): choose a shorter APIACCESS_CLUSTER_DIR`);
  }
  await acquireNodeLock(dir, { ownerAlive: nodeOfOwnerRuns, cleanUpAfter: cleanUpAfterDeadOwner });
  const state = await recordHostState(dir);
  await recordInNodeLock(dir, state);
  await addNodeAddress();
  return state;
}

export async function startNode(ctx: NodeStartContext): Promise<NodeInfo> {
  const paths = nodePaths(ctx.dir);
  await mkdir(join(ctx.dir, 'node'), { recursive: true, mode: 0o700 });
  await mkdir(paths.cniConfDir, { recursive: true });
  const kubeconfig = (user: string): string => join(ctx.dir, 'node', `${user.replaceAll(':', '-')}.kubeconfig`);
  for (const user of [KUBELET_USER, KUBE_PROXY_USER, COREDNS_USER]) {
    await writeKubeconfig(kubeconfig(user), { server: ctx.server, caFile: ctx.pki.ca.certFile, user, credential: ctx.pki.clients[user]! });
  }
  await applyNodeObjects(ctx.admin);
  const env = { ...process.env, PATH: hostPath() };

  await writeFile(paths.containerdConfig, containerdConfig(paths, PAUSE_IMAGE_REF));
  await ctx.launch('containerd', '/usr/bin/containerd', ['--config', paths.containerdConfig, '--log-level', 'warn'], { ...env, ...NO_REGISTRY });
  await ctx.waitFor('containerd', async () => (await runHost('ctr', ['--address', paths.containerdAddress, 'version'])).code === 0);
  const pause = await ensurePauseImage();
  await importImage(pause.archive, paths.containerdAddress);
  await writeFile(join(paths.cniConfDir, '10-apiaccess.conflist'), `${JSON.stringify(cniConfList(paths), null, 2)}\n`);

  const kubeletServing = ctx.pki.servers.kubelet!;
  const kubeletHealthz = await ctx.freePort();
  await writeFile(
    paths.kubeletConfig,
    stringify(kubeletConfig(paths, { caFile: ctx.pki.ca.certFile, servingCert: kubeletServing.certFile, servingKey: kubeletServing.keyFile, healthzPort: kubeletHealthz })),
  );
  await ctx.launch('kubelet', ctx.binaries.kubelet, kubeletArgs(paths, kubeconfig(KUBELET_USER)), env);

  const [proxyHealthz, proxyMetrics] = [await ctx.freePort(), await ctx.freePort()];
  await writeFile(paths.kubeProxyConfig, stringify(kubeProxyConfig({ kubeconfig: kubeconfig(KUBE_PROXY_USER), healthzPort: proxyHealthz, metricsPort: proxyMetrics })));
  await ctx.launch('kube-proxy', ctx.binaries.kubeProxy, [`--config=${paths.kubeProxyConfig}`, '--v=1'], env);

  const [dnsHealth, dnsReady] = [await ctx.freePort(), await ctx.freePort()];
  await writeFile(paths.corefile, corefile({ kubeconfig: kubeconfig(COREDNS_USER), healthPort: dnsHealth, readyPort: dnsReady }));
  await ctx.launch('coredns', ctx.binaries.coredns, ['-conf', paths.corefile], env);

  await ctx.waitFor(`Node ${NODE_NAME} to be Ready`, async () => (await nodeReady(ctx.admin)) === 'Ready');
  await ctx.waitFor('kube-proxy to sync its rules', async () => await httpOk(`http://127.0.0.1:${proxyHealthz}/healthz`));
  await ctx.waitFor('CoreDNS to be ready', async () => await httpOk(`http://127.0.0.1:${dnsReady}/ready`));
  return {
    name: NODE_NAME,
    address: NODE_ADDRESS,
    containerdAddress: paths.containerdAddress,
    podCIDR: POD_CIDR,
    clusterDNS: CLUSTER_DNS_IP,
    clusterDomain: CLUSTER_DOMAIN,
    pauseImage: PAUSE_IMAGE_REF,
    kubeletVersion: ctx.binaries.kubernetesVersion,
    corednsVersion: ctx.binaries.corednsVersion,
    hostStateFile: join(ctx.dir, 'host-state.json'),
  };
}

function kubeletArgs(paths: NodePaths, kubeconfig: string): string[] {
  return [
    `--config=${paths.kubeletConfig}`,
    `--kubeconfig=${kubeconfig}`,
    // The API server dials the node by name: an IP needs no resolver (the VM's knows no such host).
    `--hostname-override=${NODE_NAME}`,
    `--node-ip=${NODE_ADDRESS}`,
    `--root-dir=${paths.kubeletRoot}`,
    `--cert-dir=${join(paths.kubeletRoot, 'pki')}`,
    '--v=1',
  ];
}

/** 'Ready', 'NotReady: <reason>', or 'absent'. */
export async function nodeReady(admin: ApiTarget): Promise<string> {
  const res = await apiRequest(admin, 'GET', `/api/v1/nodes/${NODE_NAME}`, undefined, 5_000);
  if (res.status === 404) return 'absent';
  if (res.status !== 200) return `unknown (HTTP ${res.status})`;
  const node = JSON.parse(res.body) as { status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } };
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status === 'True') return 'Ready';
  return `NotReady: ${ready?.reason ?? 'no Ready condition yet'}${ready?.message ? ` (${ready.message})` : ''}`;
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  return res.ok;
}

/**
 * What a kubeadm cluster has around its node: the API server may use the kubelet API, CoreDNS may
 * read Services and EndpointSlices, and `kube-dns` (10.96.0.10) leads to CoreDNS on the node address.
 */
async function applyNodeObjects(admin: ApiTarget): Promise<void> {
  const labels = { 'app.kubernetes.io/managed-by': MANAGED_BY };
  await createIfAbsent(admin, '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    metadata: { name: 'apiaccess:kube-apiserver-kubelet-client', labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:kubelet-api-admin' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: APISERVER_KUBELET_CLIENT }],
  });
  await createIfAbsent(admin, '/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    metadata: { name: 'system:coredns', labels },
    rules: [
      { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
    ],
  });
  await createIfAbsent(admin, '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    metadata: { name: 'system:coredns', labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: COREDNS_USER }],
  });
  await createIfAbsent(admin, '/api/v1/namespaces/kube-system/services', {
    metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { ...labels, 'k8s-app': 'kube-dns', 'kubernetes.io/name': 'CoreDNS' } },
    spec: {
      clusterIP: CLUSTER_DNS_IP,
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
      ],
    },
  });
  // No selector: CoreDNS is a host process, so its endpoint is published by hand.
  await createIfAbsent(admin, '/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices', {
    metadata: {
      name: 'kube-dns-node',
      namespace: 'kube-system',
      labels: { ...labels, 'kubernetes.io/service-name': 'kube-dns', 'endpointslice.kubernetes.io/managed-by': MANAGED_BY },
    },
    addressType: 'IPv4',
    endpoints: [{ addresses: [NODE_ADDRESS], conditions: { ready: true }, nodeName: NODE_NAME }],
    ports: [
      { name: 'dns', port: 53, protocol: 'UDP' },
      { name: 'dns-tcp', port: 53, protocol: 'TCP' },
    ],
  });
}

async function createIfAbsent(admin: ApiTarget, collection: string, body: object): Promise<void> {
  const res = await apiRequest(admin, 'POST', collection, body);
  if (res.status !== 201 && res.status !== 409) throw new Error(`POST ${collection} answered ${res.status}: ${res.body.slice(0, 500)}`);
}

/** The node address on a bridge of its own with no ports: a local address every Pod can route to. */
async function addNodeAddress(): Promise<void> {
  if ((await runHost('ip', ['link', 'show', NODE_BRIDGE])).code !== 0) {
    await mustRunHost('ip', ['link', 'add', NODE_BRIDGE, 'type', 'bridge']);
  }
  const addresses = await mustRunHost('ip', ['-o', '-4', 'addr', 'show', 'dev', NODE_BRIDGE]);
  if (!addresses.includes(`${NODE_ADDRESS}/32`)) await mustRunHost('ip', ['addr', 'add', `${NODE_ADDRESS}/32`, 'dev', NODE_BRIDGE]);
  await mustRunHost('ip', ['link', 'set', NODE_BRIDGE, 'up']);
}

export interface TeardownTarget {
  readonly dir: string;
  /** kube-proxy binary for `kube-proxy --cleanup`, when known. */
  readonly kubeProxy?: string;
}

/** Stops the node's processes (the kubelet first, so it restarts nothing). */
export async function stopNodeProcesses(processes: readonly ComponentProcess[]): Promise<void> {
  const order = ['kubelet', 'kube-proxy', 'coredns', 'containerd'];
  const node = processes.filter((p) => order.includes(p.name)).sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  for (const proc of node) await stopProcess(proc);
}

/**
 * Restores the host from this folder's record when this folder holds the node lock (a record that
 * another cluster already restored, after this one died, is left alone). Returns what it restored.
 */
export async function restoreNodeHost(target: TeardownTarget): Promise<string[]> {
  const lock = await readNodeLock();
  if (lock?.dir !== target.dir) return [];
  // The lock's copy survives the folder; without any record, the host was not changed yet.
  const state = lock.hostState ?? (await readHostState(target.dir));
  const paths = nodePaths(target.dir);
  const restored = state
    ? await restoreHostState(state, {
        dir: target.dir,
        runcRoot: paths.runcRoot,
        containerdAddress: paths.containerdAddress,
        ...(target.kubeProxy ? { kubeProxy: target.kubeProxy } : {}),
      })
    : [];
  await releaseNodeLock(target.dir);
  return restored;
}

async function nodeOfOwnerRuns(lock: NodeLock): Promise<boolean> {
  const info = await readClusterInfo(lock.dir).catch(() => undefined);
  return (info?.processes ?? []).some((p) => (NODE_COMPONENTS as readonly string[]).includes(p.name) && isRunning(p));
}

async function cleanUpAfterDeadOwner(lock: NodeLock): Promise<void> {
  const info: ClusterInfo | undefined = await readClusterInfo(lock.dir).catch(() => undefined);
  if (info) await stopNodeProcesses(info.processes);
  const kubeProxy = info?.processes.find((p) => p.name === 'kube-proxy')?.binary;
  const restored = await restoreNodeHost({ dir: lock.dir, ...(kubeProxy && existsSync(kubeProxy) ? { kubeProxy } : {}) });
  for (const line of restored) process.stderr.write(`[cluster]   ${line}\n`);
}

/** For `status`: the Node's Ready state and versions as the API reports them. */
export async function describeNode(admin: ApiTarget): Promise<string> {
  const state = await nodeReady(admin).catch((error: Error) => `unknown (${error.message})`);
  const node = await apiJson<{ status?: { nodeInfo?: { kubeletVersion?: string; containerRuntimeVersion?: string } } }>(admin, 'GET', `/api/v1/nodes/${NODE_NAME}`).catch(() => undefined);
  const versions = node?.status?.nodeInfo ? ` (kubelet ${node.status.nodeInfo.kubeletVersion}, ${node.status.nodeInfo.containerRuntimeVersion})` : '';
  return `${NODE_NAME} ${state}${versions}`;
}
