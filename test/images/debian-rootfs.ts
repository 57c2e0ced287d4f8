// A Debian userland for the test clients image: `debootstrap --variant=minbase`, then apt-get
// inside it for the packages asked for (debootstrap's own resolver cannot install
// python3-kubernetes: it does not follow virtual packages such as python3-cffi-backend-api-min).
// Built once per package list and cached as a folder; about 40 s cold on this machine.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withLock } from '../kube/build-lock.ts';
import { imagesCacheDir, inputKey } from './cache.ts';
import { runCommand } from './command.ts';
import { ensureDebianPackages } from './debian.ts';

export const DEBIAN_SUITE = 'bookworm';
export const DEBIAN_MIRROR = 'http://deb.debian.org/debian';
const SECURITY_MIRROR = 'http://deb.debian.org/debian-security';

/** Host-specific or cache-only paths removed from the tree (the kubelet provides resolv.conf and hostname). */
const REMOVED = ['etc/resolv.conf', 'etc/hostname', 'var/cache/apt', 'var/lib/apt/lists', 'var/log', 'var/cache/debconf/templates.dat-old', 'var/cache/debconf/config.dat-old'];

/**
 * Returns a folder holding a minbase Debian `DEBIAN_SUITE` with `packages` installed (no
 * Recommends), building it when the list changed. Needs root (debootstrap, chroot).
 */
export async function ensureDebianRootfs(packages: readonly string[]): Promise<string> {
  const sorted = [...packages].sort();
  const key = await inputKey([DEBIAN_SUITE, DEBIAN_MIRROR, ...sorted], ['debian-rootfs.ts']);
  const dir = join(imagesCacheDir(), `debian-${DEBIAN_SUITE}-${key}`);
  if (existsSync(join(dir, 'rootfs'))) return join(dir, 'rootfs');
  if (process.getuid?.() !== 0) throw new Error(`building the Debian userland of the clients image needs root (debootstrap, chroot); run npm run image as root once to fill ${dir}`);
  await ensureDebianPackages(['debootstrap']);
  await mkdir(imagesCacheDir(), { recursive: true });
  return withLock(join(imagesCacheDir(), '.lock-debian'), async () => {
    if (existsSync(join(dir, 'rootfs'))) return join(dir, 'rootfs');
    const started = Date.now();
    process.stderr.write(`[images] Building a Debian ${DEBIAN_SUITE} userland with ${sorted.join(', ')} (debootstrap, once)\n`);
    const work = await mkdtemp(join(imagesCacheDir(), '.debootstrap-'));
    try {
      const rootfs = join(work, 'rootfs');
      await runCommand('debootstrap', ['--variant=minbase', DEBIAN_SUITE, rootfs, DEBIAN_MIRROR]);
      await installPackages(rootfs, sorted);
      for (const path of REMOVED) await rm(join(rootfs, path), { recursive: true, force: true });
      await emptyFolder(join(rootfs, 'dev'));
      await mkdir(dir, { recursive: true });
      await rename(rootfs, join(dir, 'rootfs'));
      process.stderr.write(`[images] Built the Debian userland in ${Math.round((Date.now() - started) / 1000)} s\n`);
      return join(dir, 'rootfs');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
}

async function installPackages(rootfs: string, packages: readonly string[]): Promise<void> {
  const sources = [`deb ${DEBIAN_MIRROR} ${DEBIAN_SUITE} main`, `deb ${DEBIAN_MIRROR} ${DEBIAN_SUITE}-updates main`, `deb ${SECURITY_MIRROR} ${DEBIAN_SUITE}-security main`];
  await writeFile(join(rootfs, 'etc', 'apt', 'sources.list'), `${sources.join('\n')}\n`);
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' };
  await runCommand('chroot', [rootfs, 'apt-get', 'update', '-q'], { env });
  await runCommand('chroot', [rootfs, 'apt-get', 'install', '-y', '-q', '--no-install-recommends', ...packages], { env });
  await runCommand('chroot', [rootfs, 'apt-get', 'clean'], { env });
}

/** /dev holds device nodes after debootstrap; the container runtime provides its own /dev. */
async function emptyFolder(dir: string): Promise<void> {
  for (const name of await readdir(dir)) await rm(join(dir, name), { recursive: true, force: true });
}
