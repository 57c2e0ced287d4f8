// The pod sandbox ("pause") image, built from build/pause/linux/pause.c of the k8s.io/kubernetes
// module the cluster is built from, the way its Makefile does (gcc -Os -static), into one layer.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withLock } from '../kube/build-lock.ts';
import { runCommand } from './command.ts';
import { ensureDebianPackages } from './debian.ts';
import { imagesCacheDir, inputKey, readBuiltImage, removeOtherArchives, writeBuiltImage } from './cache.ts';
import { goModuleDir, kubernetesVersion } from './kubernetes-version.ts';
import { writeImageArchive, type BuiltImage } from './oci.ts';

/** kubeadm's PauseVersion and build/pause/Makefile's TAG in Kubernetes 1.37; checked against the module at build time. */
export const PAUSE_VERSION = '3.10.2';
/** The sandbox image the node's containerd must be configured with (CRI `sandbox_image`). */
export const PAUSE_IMAGE_REF = `registry.k8s.io/pause:${PAUSE_VERSION}`;

/** Returns the cached pause image archive, building it first when its inputs changed. */
export async function ensurePauseImage(): Promise<BuiltImage> {
  const version = await kubernetesVersion();
  const moduleDir = await goModuleDir('k8s.io/kubernetes', version);
  await assertPauseTag(moduleDir);
  const source = await readFile(join(moduleDir, 'build', 'pause', 'linux', 'pause.c'));
  await ensureDebianPackages(['gcc', 'libc6-dev', 'binutils']);
  const compiler = await runCommand('gcc', ['--version']);
  const libc = await runCommand('dpkg-query', ['-W', '-f=${Version}', 'libc6-dev']);
  const key = await inputKey([source, version, compiler, libc], ['pause.ts']);
  const archive = join(imagesCacheDir(), `pause-${PAUSE_VERSION}-${key}.oci.tar`);
  await mkdir(imagesCacheDir(), { recursive: true });
  return withLock(join(imagesCacheDir(), '.lock-pause'), async () => {
    const cached = await readBuiltImage(archive, key);
    if (cached) return cached;
    process.stderr.write(`[images] Building ${PAUSE_IMAGE_REF} from k8s.io/kubernetes@${version} build/pause/linux/pause.c\n`);
    const binary = await compilePause(source, `v${PAUSE_VERSION}-${version}`);
    const image = await writeImageArchive(
      PAUSE_IMAGE_REF,
      archive,
      [{ description: `gcc -Os -static build/pause/linux/pause.c (k8s.io/kubernetes@${version})`, entries: [{ type: 'file', path: 'pause', mode: 0o755, size: binary.length, content: binary }] }],
      { user: '65535:65535', entrypoint: ['/pause'] },
    );
    await writeBuiltImage(image, key);
    await removeOtherArchives(archive, `pause-${PAUSE_VERSION}-`);
    return image;
  });
}

async function assertPauseTag(moduleDir: string): Promise<void> {
  const makefile = await readFile(join(moduleDir, 'build', 'pause', 'Makefile'), 'utf8');
  const tag = /^TAG \?= (\S+)$/m.exec(makefile)?.[1];
  if (tag !== PAUSE_VERSION) throw new Error(`build/pause/Makefile in ${moduleDir} has TAG ${tag ?? '(none)'}, but PAUSE_VERSION is ${PAUSE_VERSION}: update test/images/pause.ts`);
}

async function compilePause(source: Buffer, versionString: string): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'apiaccess-pause-'));
  try {
    await writeFile(join(dir, 'pause.c'), source);
    await runCommand('gcc', ['-Os', '-Wall', '-Werror', '-static', `-DVERSION=${versionString}`, '-o', 'pause', 'pause.c'], { cwd: dir });
    await runCommand('strip', ['pause'], { cwd: dir });
    return await readFile(join(dir, 'pause'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
