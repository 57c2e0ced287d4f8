// `npm run cluster -- up` and `down` with a real node leave the machine as they found it: iptables
// and nftables, sysctls, interfaces, mounts, cgroups and host folders compare equal before and
// after, also when a run was killed and the next `up` cleans up after it; and only one node runs
// per machine. The runner runs this file before the shared cluster starts (it needs the node slot).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { PAUSE_IMAGE_REF } from '../images/pause.ts';
import { apiJson, type ApiTarget } from './api-request.ts';
import { readClusterInfo, type ClusterInfo } from './cluster-info.ts';
import { runHost } from './host-command.ts';
import { NODE_LOCK_FILE } from './node-lock.ts';

const CLI = join(import.meta.dirname, 'cli.ts');
const SYSCTL_ROOTS = ['kernel', 'vm', 'net/ipv4', 'net/ipv6/conf/all', 'net/ipv6/conf/default', 'net/bridge', 'net/netfilter', 'net/core'];
/** Change on their own (counters, random values, the last PID). */
const VOLATILE_SYSCTLS = [/^kernel\/random\//, /^kernel\/ns_last_pid$/, /^kernel\/pty\/nr$/, /^net\/netfilter\/nf_conntrack_count$/];
const LISTED_DIRS = ['/run', '/var/run', '/var/lib', '/var/log', '/etc', '/opt', '/run/containerd', '/run/containerd/s', '/run/containerd/fifo'];
/**
 * util-linux's libmount keeps its utab in /run/mount, made by the first `mount` on a fresh machine and
 * kept by the system from then on: the machine's state, not the node's (seen on a fresh machine).
 */
const SYSTEM_ENTRIES: Record<string, string[]> = { '/run': ['mount'], '/var/run': ['mount'] };

/** What this test compares, gathered independently of host-state.ts. */
interface HostView {
  readonly iptables: string;
  readonly ip6tables: string;
  readonly nftTables: string;
  readonly sysctls: Record<string, string>;
  readonly interfaces: string[];
  readonly mounts: string[];
  readonly dirs: Record<string, string[]>;
  readonly cgroups: string[];
}

/** Other work on the machine (image builds in /tmp) mounts things there too: only this test's own count. */
function isComparedMount(mount: string, root: string): boolean {
  return !mount.startsWith(`${tmpdir()}/`) || mount.startsWith(`${root}/`);
}

async function hostView(root: string): Promise<HostView> {
  return {
    iptables: rulesOnly((await runHost('iptables-save', [])).stdout),
    ip6tables: rulesOnly((await runHost('ip6tables-save', [])).stdout),
    nftTables: (await runHost('nft', ['list', 'tables'])).stdout,
    sysctls: await sysctls(),
    interfaces: (await runHost('ip', ['-o', 'link', 'show'])).stdout.split('\n').map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1] ?? '').filter(Boolean).sort(),
    mounts: (await readFile('/proc/self/mountinfo', 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ')[4]!)
      .filter((m) => isComparedMount(m, root))
      .sort(),
    dirs: Object.fromEntries(
      await Promise.all(LISTED_DIRS.map(async (d) => [d, (await readdir(d).catch(() => [])).filter((e) => !SYSTEM_ENTRIES[d]?.includes(e)).sort()] as const)),
    ),
    cgroups: await cgroups(),
  };
}

/** iptables-save without its comments and counters: chains and rules only. */
function rulesOnly(save: string): string {
  return save
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/ \[\d+:\d+\]$/, ''))
    .join('\n');
}

async function sysctls(): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    const parts = rel.split('/');
    // Per-interface settings come and go with the interfaces, which are compared on their own.
    if (parts[0] === 'net' && (parts[2] === 'conf' || parts[2] === 'neigh') && parts[3] && !['all', 'default'].includes(parts[3])) return;
    for (const entry of await readdir(join('/proc/sys', rel), { withFileTypes: true }).catch(() => [])) {
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(child);
      else if (!VOLATILE_SYSCTLS.some((re) => re.test(child))) {
        const value = await readFile(join('/proc/sys', child), 'utf8').catch(() => undefined);
        if (value !== undefined) values[child] = value.trim();
      }
    }
  };
  for (const root of SYSCTL_ROOTS) await walk(root);
  return values;
}

async function cgroups(): Promise<string[]> {
  const found: string[] = [];
  for (const hierarchy of await readdir('/sys/fs/cgroup', { withFileTypes: true }).catch(() => [])) {
    if (!hierarchy.isDirectory()) continue;
    for (const child of await readdir(join('/sys/fs/cgroup', hierarchy.name), { withFileTypes: true })) {
      if (child.isDirectory()) found.push(`${hierarchy.name}/${child.name}`);
    }
  }
  return found.sort();
}

/** One line per difference ("sysctls.kernel/panic: 1 -> 10"), so that a failure says what changed. */
function differences(before: HostView, now: HostView): string[] {
  const found: string[] = [];
  const compare = (path: string, a: unknown, b: unknown): void => {
    if (typeof a === 'string' || typeof b === 'string') {
      if (a !== b) found.push(`${path}: ${lineDiff(String(a ?? ''), String(b ?? ''))}`);
    } else if (Array.isArray(a) || Array.isArray(b)) {
      const [x, y] = [(a ?? []) as string[], (b ?? []) as string[]];
      const gone = x.filter((v) => !y.includes(v));
      const added = y.filter((v) => !x.includes(v));
      if (gone.length + added.length > 0 || x.length !== y.length) found.push(`${path}: -[${gone.join(', ')}] +[${added.join(', ')}]`);
    } else {
      const [x, y] = [(a ?? {}) as Record<string, unknown>, (b ?? {}) as Record<string, unknown>];
      for (const key of new Set([...Object.keys(x), ...Object.keys(y)])) compare(`${path}.${key}`, x[key], y[key]);
    }
  };
  compare('host', before, now);
  return found;
}

function lineDiff(a: string, b: string): string {
  if (!a.includes('\n') && !b.includes('\n')) return `${a} -> ${b}`;
  const [x, y] = [a.split('\n'), b.split('\n')];
  return `-[${x.filter((l) => !y.includes(l)).join(' | ')}] +[${y.filter((l) => !x.includes(l)).join(' | ')}]`;
}

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function cluster(dir: string, ...args: string[]): Promise<CliResult> {
  return await new Promise<CliResult>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      env: { ...process.env, APIACCESS_CLUSTER_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

function admin(info: ClusterInfo): ApiTarget {
  return { server: info.server, caFile: info.caFile, token: info.tokens.admin };
}

async function waitUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

/** A running Pod with a hostPort (portmap's chains) behind a NodePort Service (kube-proxy's). */
async function runPodWithService(info: ClusterInfo): Promise<void> {
  const target = admin(info);
  await apiJson(target, 'POST', '/api/v1/namespaces/default/pods', {
    metadata: { name: 'restore-probe', labels: { app: 'restore-probe' } },
    spec: {
      containers: [{ name: 'pause', image: PAUSE_IMAGE_REF, imagePullPolicy: 'Never', ports: [{ containerPort: 8080, hostPort: 31080 }] }],
    },
  });
  await apiJson(target, 'POST', '/api/v1/namespaces/default/services', {
    metadata: { name: 'restore-probe' },
    spec: { type: 'NodePort', selector: { app: 'restore-probe' }, ports: [{ port: 80, targetPort: 8080 }] },
  });
  await waitUntil('the probe Pod to run', async () => {
    const pod = await apiJson<{ status?: { phase?: string } }>(target, 'GET', '/api/v1/namespaces/default/pods/restore-probe');
    return pod.status?.phase === 'Running' ? true : undefined;
  });
  await waitUntil('kube-proxy and portmap rules for the probe', async () => {
    const rules = (await runHost('iptables-save', [])).stdout;
    return rules.includes('default/restore-probe') && rules.includes('CNI-HOSTPORT') ? true : undefined;
  });
}

function killAll(info: ClusterInfo): void {
  for (const proc of info.processes) {
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

describe('host restoration by `npm run cluster -- down`', { concurrency: false }, () => {
  let root: string;
  let pristine: HostView;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'apiaccess-host-restore-'));
    pristine = await hostView(root);
  });
  after(async () => {
    for (const name of ['b', 'a']) await cluster(join(root, name), 'down');
    await rm(root, { recursive: true, force: true });
  });

  it('GIVEN a node with a running Pod and a NodePort Service WHEN `down` runs THEN the host compares equal to before `up`', async () => {
    const dir = join(root, 'a');
    const up = await cluster(dir, 'up');
    assert.equal(up.code, 0, up.stderr);
    assert.equal(up.stdout.trim().split('\n').at(-1), `KUBECONFIG=${join(dir, 'admin.kubeconfig')}`);
    const info = (await readClusterInfo(dir))!;
    await runPodWithService(info);
    const during = await hostView(root);
    // The comparison can fail: the node really did change the host.
    assert.notDeepEqual(differences(pristine, during), []);
    assert.match(during.iptables, /KUBE-SERVICES/);
    assert.ok(during.interfaces.includes('apiaccess0'));

    const down = await cluster(dir, 'down');

    assert.equal(down.code, 0, down.stderr);
    assert.ok(!existsSync(dir), `${dir} is removed`);
    assert.ok(!existsSync(NODE_LOCK_FILE), 'the machine-wide node lock is released');
    assert.deepEqual(differences(pristine, await hostView(root)), []);
  });

  it('GIVEN a node WHEN a second cluster starts with a node THEN it fails naming the first cluster and how to stop it', async () => {
    const first = join(root, 'a');
    const second = join(root, 'b');
    assert.equal((await cluster(first, 'up')).code, 0);

    const refused = await cluster(second, 'up');

    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`state in ${first}\\b`));
    assert.ok(refused.stderr.includes(`APIACCESS_CLUSTER_DIR=${first} npm run cluster -- down`), refused.stderr);
    const status = await cluster(first, 'status');
    assert.match(status.stdout, /^running$/m);
    assert.match(status.stdout, /^Node: 172\.31\.254\.1 Ready \(kubelet v1\.\d+\.\d+, containerd:\/\/1\.6\.\d+\)$/m);
  });

  it('GIVEN a node whose processes were killed (a session that ended) WHEN another cluster starts with a node THEN it cleans up first and its `down` restores the host', async () => {
    const dead = join(root, 'a');
    const info = (await readClusterInfo(dead))!;
    await runPodWithService(info);
    killAll(info);

    const up = await cluster(join(root, 'b'), 'up');

    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, new RegExp(`Cleaning up after the node of a dead cluster in ${dead}`));
    assert.equal((await cluster(join(root, 'b'), 'down')).code, 0);
    assert.deepEqual(differences(pristine, await hostView(root)), []);
    // The dead cluster's own `down` finds its record restored already and changes nothing.
    assert.equal((await cluster(dead, 'down')).code, 0);
    assert.deepEqual(differences(pristine, await hostView(root)), []);
  });
});
