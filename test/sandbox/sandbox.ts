// The pod sandbox: runs an unmodified client as one container of a Pod would run, with the files the
// kubelet would mount at their real in-pod paths (private mount namespace) and with
// https://kubernetes.default.svc and $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT reaching the
// local API server (private network namespace, /etc/hosts, a forwarder on 10.96.0.1:443 tunnelled
// over a Unix socket). Needs root (unshare, mount).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, resolve } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import type { ClusterInfo } from '../cluster/cluster-info.ts';
import { processExists } from '../cluster/processes.ts';
import type { InsideSpec } from './inside.ts';
import { podView, type PodView } from './pod-view.ts';

export interface RunInPodOptions {
  /** A Pod read from the API (it needs its uid for the bound token). */
  readonly pod: V1Pod;
  /** Default: the first container. */
  readonly container?: string;
  /** argv, or a string run with `sh -c`. */
  readonly command: readonly string[] | string;
  readonly cluster: ClusterInfo;
  readonly timeoutMs?: number;
}

export interface PodRunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const SERVICE_PORT = 443;
const ROOT_PREFIX = 'apiaccess-pod-';
const SETUP_FAILED = 125;
const repoRoot = resolve(import.meta.dirname, '..', '..');

export async function runInPod(options: RunInPodOptions): Promise<PodRunResult> {
  if (process.getuid?.() !== 0) throw new Error('The pod sandbox needs root: it creates mount and network namespaces');
  const { cluster } = options;
  const admin = { server: cluster.server, caFile: cluster.caFile, token: cluster.tokens.admin };
  const view = await podView(admin, options.pod, options.container, { host: cluster.kubernetesServiceIP, port: SERVICE_PORT });
  await removeAbandonedRoots();
  const root = await mkdtemp(join(tmpdir(), `${ROOT_PREFIX}${process.pid}-`));
  let forwarder: Server | undefined;
  try {
    const socketPath = join(root, 'api.sock');
    forwarder = await startForwarder(socketPath, new URL(cluster.server));
    const home = join(root, 'home');
    await mkdir(home, { mode: 0o700 });
    const spec: InsideSpec = {
      mounts: await materialize(view, join(root, 'volumes')),
      hostsFile: await writeHosts(root, cluster.kubernetesServiceIP),
      overlayDir: join(root, 'overlays'),
      socketPath,
      serviceIP: cluster.kubernetesServiceIP,
      servicePort: SERVICE_PORT,
      // HOME is an empty folder: the host's ~/.kube/config must not be found by in-pod clients.
      env: { ...view.env, HOME: home },
      command: typeof options.command === 'string' ? ['sh', '-c', options.command] : [...options.command],
      workingDir: view.workingDir,
      setupErrorFile: join(root, 'setup-error'),
    };
    const specFile = join(root, 'spec.json');
    await writeFile(specFile, JSON.stringify(spec));
    const result = await runInside(specFile, options.timeoutMs ?? 60_000);
    if (result.code === SETUP_FAILED && existsSync(spec.setupErrorFile)) {
      throw new Error(`Pod sandbox setup failed: ${await readFile(spec.setupErrorFile, 'utf8')}`);
    }
    return result;
  } finally {
    await new Promise<void>((done) => (forwarder ? forwarder.close(() => done()) : done()));
    await rm(root, { recursive: true, force: true });
  }
}

/**
 * Temp folders of test processes that were killed mid-run (Ctrl-C). Removing them is safe: their
 * mounts lived only in the sandbox's mount namespace, which ended with it.
 */
async function removeAbandonedRoots(): Promise<void> {
  for (const entry of await readdir(tmpdir())) {
    const pid = Number.parseInt(entry.slice(ROOT_PREFIX.length), 10);
    if (!entry.startsWith(ROOT_PREFIX) || !Number.isInteger(pid) || pid === process.pid || processExists(pid)) continue;
    await rm(join(tmpdir(), entry), { recursive: true, force: true });
  }
}


/** Writes each volume into its own folder and returns the bind mounts for the container's mounts. */
async function materialize(view: PodView, dir: string): Promise<InsideSpec['mounts']> {
  for (const volume of view.volumes) {
    const base = join(dir, volume.name);
    await mkdir(base, { recursive: true });
    for (const file of volume.files) {
      const path = join(base, normalize(file.path));
      if (!path.startsWith(`${base}/`)) throw new Error(`Volume ${volume.name}: path ${file.path} leaves the volume`);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, file.content);
      // chmod, not writeFile's mode: the process umask must not change what the Pod asked for.
      await chmod(path, file.mode);
    }
  }
  return view.mounts.map((mount) => {
    const volume = view.volumes.find((v) => v.name === mount.volume)!;
    const source = join(dir, volume.name, mount.subPath ?? '');
    return { source, target: mount.mountPath, readOnly: mount.readOnly || volume.alwaysReadOnly };
  });
}

async function writeHosts(root: string, serviceIP: string): Promise<string> {
  const path = join(root, 'hosts');
  // Stands in for cluster DNS, which a real Pod would ask.
  const names = 'kubernetes kubernetes.default kubernetes.default.svc kubernetes.default.svc.cluster.local';
  await writeFile(path, `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${serviceIP}\t${names}\n`);
  await chmod(path, 0o644);
  return path;
}

/** The outer half of the tunnel: a Unix socket (reachable from any network namespace) to the API server. */
async function startForwarder(socketPath: string, server: URL): Promise<Server> {
  const forwarder = createServer((inner: Socket) => {
    const upstream = connect(Number(server.port), server.hostname);
    inner.pipe(upstream).pipe(inner);
    inner.on('error', () => upstream.destroy());
    upstream.on('error', () => inner.destroy());
  });
  await new Promise<void>((done, fail) => forwarder.once('error', fail).listen(socketPath, done));
  return forwarder;
}

async function runInside(specFile: string, timeoutMs: number): Promise<PodRunResult> {
  const args = ['--mount', '--propagation', 'private', '--net', '--', process.execPath, '--import', 'tsx', join(import.meta.dirname, 'inside.ts'), specFile];
  return await new Promise<PodRunResult>((done, fail) => {
    // Its own process group, so a timeout kills the command together with the inside process.
    const child = spawn('unshare', args, { cwd: repoRoot, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      stderr += `\n[sandbox] killed after ${timeoutMs} ms\n`;
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      fail(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code: code ?? (signal ? 137 : 1), stdout, stderr });
    });
  });
}
