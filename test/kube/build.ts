// Builds the local cluster's Kubernetes commands, etcd and CoreDNS from their Go modules, once per
// version, into the binary cache (APIACCESS_CACHE_DIR, default ~/.cache/apiaccess). Builds run in a temporary
// copy of the wrapper module so the checkout never receives build output.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { withLock } from './build-lock.ts';

export interface Binaries {
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubeControllerManager: string;
  readonly kubeScheduler: string;
  readonly kubelet: string;
  readonly kubeProxy: string;
  readonly kubectl: string;
  readonly coredns: string;
  readonly kubernetesVersion: string;
  readonly etcdVersion: string;
  readonly corednsVersion: string;
}

interface BuildGroup {
  /** folder under test/kube holding go.mod, go.sum and tools.go */
  readonly module: string;
  readonly version: string;
  readonly commands: readonly { readonly name: string; readonly pkg: string }[];
  readonly ldflags: string;
}

const moduleRoot = import.meta.dirname;
const PROGRESS_EVERY_MS = 30_000;

export function cacheDir(): string {
  return process.env.APIACCESS_CACHE_DIR ?? join(homedir(), '.cache', 'apiaccess');
}

export function binaryPath(name: string, version: string): string {
  return join(cacheDir(), 'bin', `${name}-${version}`, name);
}

/** Returns the cached binaries, building the missing ones first (minutes on a cold machine). */
export async function ensureBinaries(): Promise<Binaries> {
  const kubernetes = await kubernetesGroup();
  const etcd = await etcdGroup();
  const coredns = await corednsGroup();
  // One group at a time: each link of kube-apiserver takes ~2 GiB and both cores.
  await ensureGroup(kubernetes);
  await ensureGroup(etcd);
  await ensureGroup(coredns);
  return {
    etcd: binaryPath('etcd', etcd.version),
    kubeApiserver: binaryPath('kube-apiserver', kubernetes.version),
    kubeControllerManager: binaryPath('kube-controller-manager', kubernetes.version),
    kubeScheduler: binaryPath('kube-scheduler', kubernetes.version),
    kubelet: binaryPath('kubelet', kubernetes.version),
    kubeProxy: binaryPath('kube-proxy', kubernetes.version),
    kubectl: binaryPath('kubectl', kubernetes.version),
    coredns: binaryPath('coredns', coredns.version),
    kubernetesVersion: kubernetes.version,
    etcdVersion: etcd.version,
    corednsVersion: coredns.version,
  };
}

async function kubernetesGroup(): Promise<BuildGroup> {
  const version = await requiredVersion('kubernetes', 'k8s.io/kubernetes');
  const [, major, minor] = /^v(\d+)\.(\d+)\./.exec(version) ?? [];
  // What hack/lib/version.sh stamps into a release build: `/version` and kubectl's skew checks read it.
  const stamp = ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version'].flatMap((pkg) => [
    `-X ${pkg}.gitVersion=${version}`,
    `-X ${pkg}.gitMajor=${major}`,
    `-X ${pkg}.gitMinor=${minor}`,
    `-X ${pkg}.gitTreeState=clean`,
  ]);
  return {
    module: 'kubernetes',
    version,
    commands: [
      { name: 'kube-apiserver', pkg: 'k8s.io/kubernetes/cmd/kube-apiserver' },
      { name: 'kube-controller-manager', pkg: 'k8s.io/kubernetes/cmd/kube-controller-manager' },
      { name: 'kube-scheduler', pkg: 'k8s.io/kubernetes/cmd/kube-scheduler' },
      { name: 'kubelet', pkg: 'k8s.io/kubernetes/cmd/kubelet' },
      { name: 'kube-proxy', pkg: 'k8s.io/kubernetes/cmd/kube-proxy' },
      { name: 'kubectl', pkg: 'k8s.io/kubernetes/cmd/kubectl' },
    ],
    ldflags: stamp.join(' '),
  };
}

async function etcdGroup(): Promise<BuildGroup> {
  const version = await requiredVersion('etcd', 'go.etcd.io/etcd/server/v3');
  return { module: 'etcd', version, commands: [{ name: 'etcd', pkg: 'go.etcd.io/etcd/server/v3' }], ldflags: '' };
}

/** CoreDNS's own main package with its default plugins (the `kubernetes` plugin among them). */
async function corednsGroup(): Promise<BuildGroup> {
  const version = await requiredVersion('coredns', 'github.com/coredns/coredns');
  return { module: 'coredns', version, commands: [{ name: 'coredns', pkg: 'github.com/coredns/coredns' }], ldflags: '' };
}

/** The wrapper go.mod is the single place where a version is pinned. */
async function requiredVersion(module: string, path: string): Promise<string> {
  const goMod = await readFile(join(moduleRoot, module, 'go.mod'), 'utf8');
  const match = new RegExp(`^require ${path.replaceAll('.', '\\.')} (v\\S+)$`, 'm').exec(goMod);
  if (!match?.[1]) throw new Error(`test/kube/${module}/go.mod has no "require ${path} vX.Y.Z" line`);
  return match[1];
}

function isBuilt(group: BuildGroup): boolean {
  return group.commands.every((c) => existsSync(binaryPath(c.name, group.version)));
}

async function ensureGroup(group: BuildGroup): Promise<void> {
  if (isBuilt(group)) return;
  await mkdir(join(cacheDir(), 'bin'), { recursive: true });
  await withLock(join(cacheDir(), 'bin', `.build-${group.module}.lock`), async () => {
    // Another process may have finished the build while this one waited for the lock.
    if (!isBuilt(group)) await build(group);
  });
}

async function build(group: BuildGroup): Promise<void> {
  const names = group.commands.map((c) => c.name).join(', ');
  const work = await mkdtemp(join(tmpdir(), `apiaccess-gobuild-${group.module}-`));
  // Output goes next to its final place so that installing it is a rename on the same filesystem.
  const out = join(cacheDir(), 'bin', `.staging-${group.module}-${process.pid}`);
  try {
    for (const file of ['go.mod', 'go.sum', 'tools.go']) {
      await copyFile(join(moduleRoot, group.module, file), join(work, file));
    }
    await rm(out, { recursive: true, force: true });
    await mkdir(out);
    const started = Date.now();
    process.stderr.write(`[kube] Building ${names} ${group.version} from Go modules (once, cached in ${cacheDir()}/bin)\n`);
    const progress = setInterval(() => {
      process.stderr.write(`[kube] Still building ${names} ${group.version}: ${elapsed(started)} elapsed\n`);
    }, PROGRESS_EVERY_MS);
    try {
      await goBuild(group, work, out);
    } finally {
      clearInterval(progress);
    }
    for (const command of group.commands) await install(join(out, command.name), command.name, group.version);
    process.stderr.write(`[kube] Built ${names} ${group.version} in ${elapsed(started)}\n`);
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(out, { recursive: true, force: true });
  }
}

async function goBuild(group: BuildGroup, work: string, outDir: string): Promise<void> {
  // `-o dir/` names each binary after its package; etcd's package path ends in /v3, so name it
  // (and every other single-command group, CoreDNS's included).
  const out = group.commands.length === 1 ? join(outDir, group.commands[0]!.name) : `${outDir}/`;
  const args = ['build', '-trimpath', '-tags', 'selinux,notest', '-ldflags', group.ldflags, '-o', out];
  args.push(...group.commands.map((c) => c.pkg));
  const logFile = join(work, 'build.log');
  const log = createWriteStream(logFile);
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn('go', args, {
      cwd: work,
      // A pinned, reproducible build: no cgo (static binaries), no automatic toolchain download.
      env: { ...process.env, CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? 1));
  });
  await new Promise<void>((resolve) => log.end(resolve));
  if (code !== 0) {
    const tail = (await readFile(logFile, 'utf8')).split('\n').slice(-30).join('\n');
    throw new Error(`go ${args.join(' ')} failed with exit code ${code} (in test/kube/${group.module}):\n${tail}`);
  }
}

/** Moves a binary into its cache folder with one rename, so readers never see a half-written file. */
async function install(built: string, name: string, version: string): Promise<void> {
  const final = join(cacheDir(), 'bin', `${name}-${version}`);
  const staging = `${final}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging);
  await rename(built, join(staging, name));
  await rm(final, { recursive: true, force: true });
  await rename(staging, final);
}

function elapsed(since: number): string {
  const s = Math.round((Date.now() - since) / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}
