// What the local node changes on the machine, recorded before `up` changes anything and restored by
// `down` (or by the next `up` after a killed run): sysctls the kubelet, kube-proxy and the bridge
// plugin set, iptables chains, network interfaces, mounts, cgroups and host folders that some
// components create whatever their flags say.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runHost } from './host-command.ts';
import { IPTABLES_FAMILIES, restoreIptables, saveIptables, type IptablesFamily, type IptablesSnapshot } from './iptables.ts';
import { NODE_BRIDGE, POD_BRIDGE, RUNC_BINARY } from './node-config.ts';

/**
 * Set by the kubelet (kernel.panic 1->10, kernel.panic_on_oops 0->1, vm.overcommit_memory 0->1, and
 * the keys limits and panic_on_oom when they are lower), by the bridge plugin (ip_forward) and by
 * kube-proxy unless configured otherwise (route_localnet, conntrack limits and timeouts).
 */
export const NODE_SYSCTLS = [
  'kernel.panic',
  'kernel.panic_on_oops',
  'kernel.keys.root_maxkeys',
  'kernel.keys.root_maxbytes',
  'vm.overcommit_memory',
  'vm.panic_on_oom',
  'net.ipv4.ip_forward',
  'net.ipv4.conf.all.forwarding',
  'net.ipv4.conf.default.forwarding',
  'net.ipv6.conf.all.forwarding',
  'net.ipv4.conf.all.route_localnet',
  'net.bridge.bridge-nf-call-iptables',
  'net.bridge.bridge-nf-call-ip6tables',
  'net.netfilter.nf_conntrack_max',
  'net.netfilter.nf_conntrack_tcp_timeout_established',
  'net.netfilter.nf_conntrack_tcp_timeout_close_wait',
  'net.netfilter.nf_conntrack_tcp_be_liberal',
] as const;

/**
 * Host folders that the kubelet, containerd and the CNI plugins create regardless of their root
 * folders (device plugins, container log links, the CNI result cache, shim sockets and fifos).
 * Removed at `down` only when they did not exist before `up`.
 */
export const NODE_HOST_PATHS = [
  '/var/lib/kubelet',
  '/var/log/containers',
  '/var/log/pods',
  '/var/lib/cni',
  '/run/netns',
  '/run/containerd',
  '/run/containerd/s',
  '/run/containerd/fifo',
  '/run/containerd/runc',
  '/var/lib/containerd',
  '/opt/containerd',
  '/etc/cni',
  '/opt/cni',
  '/etc/kubernetes',
  '/var/lib/kube-proxy',
  '/run/xtables.lock',
] as const;

/** Top-level cgroups (in every v1 hierarchy) that the kubelet creates for Pods. */
export const NODE_CGROUPS = ['kubepods', 'kubepods.slice'] as const;

const CGROUP_ROOT = '/sys/fs/cgroup';
const NODE_INTERFACES: readonly string[] = [NODE_BRIDGE, POD_BRIDGE];

export interface HostState {
  readonly recordedAt: string;
  /** The cluster folder whose node this state was recorded for. */
  readonly clusterDir: string;
  /** null: the sysctl does not exist on this kernel. */
  readonly sysctls: Readonly<Record<string, string | null>>;
  readonly iptables: Partial<Record<IptablesFamily, IptablesSnapshot>>;
  /** `nft list tables` lines; null without the nft tool. */
  readonly nftTables: readonly string[] | null;
  readonly interfaces: readonly string[];
  readonly mountPoints: readonly string[];
  /** path -> existed */
  readonly paths: Readonly<Record<string, boolean>>;
  /** hierarchy folder -> its top-level cgroups */
  readonly cgroups: Readonly<Record<string, readonly string[]>>;
}

export function hostStateFile(dir: string): string {
  return join(dir, 'host-state.json');
}

/** Marks a restored record, so that a later `down` in the same folder does not restore it twice. */
function restoredFile(dir: string): string {
  return join(dir, 'host-state.restored.json');
}

export async function recordHostState(dir: string): Promise<HostState> {
  const iptables: Partial<Record<IptablesFamily, IptablesSnapshot>> = {};
  for (const family of IPTABLES_FAMILIES) {
    const snapshot = await saveIptables(family);
    if (snapshot) iptables[family] = snapshot;
  }
  const state: HostState = {
    recordedAt: new Date().toISOString(),
    clusterDir: dir,
    sysctls: await readSysctls(NODE_SYSCTLS),
    iptables,
    nftTables: await nftTables(),
    interfaces: await interfaceNames(),
    mountPoints: await mountPoints(),
    paths: Object.fromEntries(NODE_HOST_PATHS.map((p) => [p, existsSync(p)])),
    cgroups: await topLevelCgroups(),
  };
  await writeFile(hostStateFile(dir), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  return state;
}

/** Undefined when no unrestored record is in `dir`. */
export async function readHostState(dir: string): Promise<HostState | undefined> {
  const text = await readFile(hostStateFile(dir), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as HostState);
}

export interface RestoreTargets {
  /** The cluster folder: every mount beneath it goes. */
  readonly dir: string;
  /** runc's state folder (containers still running there are killed). */
  readonly runcRoot: string;
  readonly containerdAddress: string;
  /** kube-proxy binary for `kube-proxy --cleanup`, when known. */
  readonly kubeProxy?: string;
}

/**
 * Takes the machine back to `state`; returns one line per restored item. The node's processes must
 * be stopped already; containers and shims that outlived them are killed here.
 */
export async function restoreHostState(state: HostState, targets: RestoreTargets): Promise<string[]> {
  const done: string[] = [];
  done.push(...(await killContainers(targets.runcRoot)));
  done.push(...(await killShims(targets.containerdAddress)));
  done.push(...(await unmountNew(state, [targets.dir, ...NODE_HOST_PATHS])));
  if (targets.kubeProxy && existsSync(targets.kubeProxy)) {
    // Knows every chain and nftables table of every mode; the generic undo below catches the rest.
    await runHost(targets.kubeProxy, ['--cleanup', '--v=0'], { timeoutMs: 60_000 });
  }
  for (const family of IPTABLES_FAMILIES) {
    const before = state.iptables[family];
    if (before) done.push(...(await restoreIptables(family, before)));
  }
  done.push(...(await removeNewNftTables(state)));
  done.push(...(await removeNewInterfaces(state)));
  done.push(...(await removeNewCgroups(state)));
  done.push(...(await restoreSysctls(state)));
  done.push(...(await removeNewPaths(state)));
  if (existsSync(hostStateFile(targets.dir))) await rename(hostStateFile(targets.dir), restoredFile(targets.dir));
  return done;
}

async function readSysctls(keys: readonly string[]): Promise<Record<string, string | null>> {
  const values: Record<string, string | null> = {};
  for (const key of keys) values[key] = await readFile(sysctlPath(key), 'utf8').then((v) => v.trim(), () => null);
  return values;
}

function sysctlPath(key: string): string {
  return join('/proc/sys', ...key.split('.'));
}

async function restoreSysctls(state: HostState): Promise<string[]> {
  const done: string[] = [];
  const now = await readSysctls(Object.keys(state.sysctls));
  for (const [key, was] of Object.entries(state.sysctls)) {
    if (was === null || now[key] === null || now[key] === was) continue;
    await writeFile(sysctlPath(key), was);
    done.push(`sysctl ${key}: ${now[key]} -> ${was}`);
  }
  return done;
}

async function nftTables(): Promise<string[] | null> {
  const result = await runHost('nft', ['list', 'tables']);
  if (result.code !== 0) return null;
  return result.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('table '));
}

/** Tables that appeared (iptables-nft creates `ip mangle` and the like on first use, kube-proxy its own). */
async function removeNewNftTables(state: HostState): Promise<string[]> {
  if (state.nftTables === null) return [];
  const now = (await nftTables()) ?? [];
  const done: string[] = [];
  for (const table of now.filter((t) => !state.nftTables!.includes(t))) {
    const [, family, name] = table.split(' ');
    const result = await runHost('nft', ['delete', 'table', family!, name!]);
    if (result.code === 0) done.push(`nftables: removed ${table}`);
  }
  return done;
}

async function interfaceNames(): Promise<string[]> {
  const result = await runHost('ip', ['-o', 'link', 'show']);
  if (result.code !== 0) throw new Error(`ip -o link show failed: ${result.stderr}`);
  return result.stdout
    .split('\n')
    .map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
}

async function removeNewInterfaces(state: HostState): Promise<string[]> {
  const done: string[] = [];
  for (const name of await interfaceNames()) {
    if (state.interfaces.includes(name)) continue;
    // Host ends of Pod veths whose namespace outlived its containers go with the bridges.
    if (!NODE_INTERFACES.includes(name) && !name.startsWith('veth')) continue;
    const result = await runHost('ip', ['link', 'delete', name]);
    if (result.code === 0) done.push(`interface ${name}: removed`);
  }
  return done;
}

/** Mount points in this mount namespace, in mount order (octal escapes of mountinfo decoded). */
async function mountPoints(): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))));
}

function isUnder(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith('/') ? root : `${root}/`);
}

/** Deepest first, so that a mount on top of another goes before it. */
async function unmountNew(state: HostState, roots: readonly string[]): Promise<string[]> {
  const before = new Set(state.mountPoints);
  const fresh = (await mountPoints()).filter((m) => !before.has(m) && roots.some((r) => isUnder(m, r)));
  const done: string[] = [];
  for (const mount of [...new Set(fresh)].sort((a, b) => b.length - a.length)) {
    const result = await runHost('umount', [mount]);
    if (result.code !== 0 && (await runHost('umount', ['-l', mount])).code !== 0) continue;
    done.push(`unmounted ${mount}`);
  }
  return done;
}

/** Fails when something is still mounted beneath `root`: `rm -rf` would reach into that mount. */
export async function assertNothingMountedUnder(root: string): Promise<void> {
  const left = (await mountPoints()).filter((m) => isUnder(m, root));
  if (left.length > 0) throw new Error(`Refusing to remove ${root}: still mounted beneath it: ${left.join(', ')}`);
}

async function killContainers(runcRoot: string): Promise<string[]> {
  const done: string[] = [];
  const namespaces = await readdir(runcRoot).catch(() => [] as string[]);
  for (const namespace of namespaces) {
    const root = join(runcRoot, namespace);
    const list = await runHost(RUNC_BINARY, ['--root', root, 'list', '-q']);
    for (const id of list.stdout.split('\n').filter(Boolean)) {
      const result = await runHost(RUNC_BINARY, ['--root', root, 'delete', '--force', id]);
      if (result.code === 0) done.push(`container ${id}: killed`);
    }
  }
  return done;
}

/**
 * Shims of this node's containerd (matched by its socket address on their command line), and the
 * sockets a killed shim leaves in /run/containerd/s (a folder other containerds may share).
 */
async function killShims(containerdAddress: string): Promise<string[]> {
  const done: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = await readFile(join('/proc', entry, 'cmdline'), 'utf8').then((t) => t.split('\0'), () => [] as string[]);
    if (!argv[0]?.includes('containerd-shim') || !argv.includes(containerdAddress)) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
      done.push(`shim ${entry}: killed`);
    } catch {
      // gone meanwhile
    }
    const socket = shimSocket(containerdAddress, argumentOf(argv, '-namespace'), argumentOf(argv, '-id'));
    if (socket && existsSync(socket)) await rm(socket, { force: true });
  }
  return done;
}

function argumentOf(argv: readonly string[], flag: string): string | undefined {
  const at = argv.indexOf(flag);
  return at >= 0 ? argv[at + 1] : undefined;
}

/** containerd 1.6 runtime/v2/shim SocketAddress: /run/containerd/s/sha256(<address>/<namespace>/<id>). */
function shimSocket(containerdAddress: string, namespace: string | undefined, id: string | undefined): string | undefined {
  if (!namespace || !id) return undefined;
  return join('/run/containerd/s', createHash('sha256').update(join(containerdAddress, namespace, id)).digest('hex'));
}

async function topLevelCgroups(): Promise<Record<string, string[]>> {
  const hierarchies: Record<string, string[]> = {};
  for (const entry of await readdir(CGROUP_ROOT, { withFileTypes: true }).catch(() => [])) {
    if (!entry.isDirectory()) continue;
    const dir = join(CGROUP_ROOT, entry.name);
    const children = await readdir(dir, { withFileTypes: true }).catch(() => []);
    hierarchies[dir] = children.filter((c) => c.isDirectory()).map((c) => c.name).sort();
  }
  return hierarchies;
}

async function removeNewCgroups(state: HostState): Promise<string[]> {
  const done: string[] = [];
  for (const [hierarchy, children] of Object.entries(await topLevelCgroups())) {
    const before = state.cgroups[hierarchy] ?? [];
    for (const name of children) {
      if (before.includes(name) || !(NODE_CGROUPS as readonly string[]).includes(name)) continue;
      if (await removeCgroupTree(join(hierarchy, name))) done.push(`cgroup ${join(hierarchy, name)}: removed`);
    }
  }
  return done;
}

/** A cgroup folder can only be removed with rmdir, children first, once no process is left in it. */
async function removeCgroupTree(dir: string): Promise<boolean> {
  const children = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const child of children) if (child.isDirectory()) await removeCgroupTree(join(dir, child.name));
  return await rmdir(dir).then(() => true, () => false);
}

async function removeNewPaths(state: HostState): Promise<string[]> {
  const done: string[] = [];
  // Parents after children: /run/containerd/s before /run/containerd.
  const created = Object.entries(state.paths).filter(([path, existed]) => !existed && existsSync(path)).map(([path]) => path);
  for (const path of created.sort((a, b) => b.length - a.length)) {
    if (!existsSync(path)) continue;
    await assertNothingMountedUnder(path);
    await rm(path, { recursive: true, force: true });
    done.push(`removed ${path}`);
  }
  return done;
}
