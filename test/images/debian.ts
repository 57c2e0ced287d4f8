// Debian packages that image builds (and the local node) need on the host. As root they are
// installed, naming each; otherwise the error gives the exact command to run.
import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from './command.ts';

/** Installs the missing packages (root) or throws with the `apt-get install` command to run. */
export async function ensureDebianPackages(packages: readonly string[]): Promise<void> {
  const missing: string[] = [];
  for (const pkg of packages) if (!(await isInstalled(pkg))) missing.push(pkg);
  if (missing.length === 0) return;
  const command = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) throw new Error(`missing Debian package(s) ${missing.join(', ')}: run as root: ${command}`);
  process.stderr.write(`[images] Installing Debian package(s): ${missing.join(', ')}\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await runCommand('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env });
  } catch {
    // A fresh machine has no package lists yet.
    await runCommand('apt-get', ['update'], { env });
    await runCommand('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env });
  }
}

async function isInstalled(pkg: string): Promise<boolean> {
  const status = await runCommand('dpkg-query', ['-W', '-f=${Status}', pkg]).catch(() => '');
  return status.trim() === 'install ok installed';
}

export interface DebianPackage {
  readonly name: string;
  readonly version: string;
}

/**
 * The .deb of each package at its pinned version, downloaded once into `dir` with `apt-get download`
 * (apt checks the archive's signatures). When Debian no longer serves a pinned version (a point or
 * security release replaced it), the current candidate is used with a warning naming both: the
 * digest then changes, which is what it should do when the packages change.
 */
export async function downloadDebianPackages(packages: readonly DebianPackage[], dir: string): Promise<{ pkg: DebianPackage; deb: string }[]> {
  await mkdir(dir, { recursive: true });
  const result: { pkg: DebianPackage; deb: string }[] = [];
  for (const pinned of packages) {
    const deb = await cachedDeb(pinned, dir) ?? (await download(pinned, dir));
    result.push({ pkg: await debPackage(deb), deb });
  }
  return result;
}

/** Unpacks a .deb's files (not its maintainer scripts) into dir. */
export async function unpackDeb(deb: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await runCommand('dpkg-deb', ['-x', deb, dir]);
}

async function cachedDeb(pkg: DebianPackage, dir: string): Promise<string | undefined> {
  const prefix = `${pkg.name}_${pkg.version.replace(/^\d+:/, '').replace(/:/g, '%3a')}_`;
  const found = (await readdir(dir)).find((f) => f.startsWith(prefix) && f.endsWith('.deb'));
  return found === undefined ? undefined : join(dir, found);
}

async function download(pinned: DebianPackage, dir: string): Promise<string> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let version = pinned.version;
  if (!(await isAvailable(pinned))) {
    await runCommand('apt-get', ['update'], { env });
    if (!(await isAvailable(pinned))) {
      version = await candidateVersion(pinned.name);
      process.stderr.write(`[images] warning: Debian no longer serves ${pinned.name}=${pinned.version}; using ${version} (update the pin)\n`);
    }
  }
  const tmp = await mkdtemp(join(dir, '.download-'));
  try {
    await runCommand('apt-get', ['download', `${pinned.name}=${version}`], { cwd: tmp, env });
    const [file] = (await readdir(tmp)).filter((f) => f.endsWith('.deb'));
    if (file === undefined) throw new Error(`apt-get download ${pinned.name}=${version} wrote no .deb`);
    await rename(join(tmp, file), join(dir, file));
    return join(dir, file);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function isAvailable(pkg: DebianPackage): Promise<boolean> {
  const out = await runCommand('apt-cache', ['madison', pkg.name]).catch(() => '');
  return out.split('\n').some((line) => line.split('|')[1]?.trim() === pkg.version);
}

async function candidateVersion(name: string): Promise<string> {
  const out = await runCommand('apt-cache', ['policy', name]);
  const candidate = /Candidate:\s*(\S+)/.exec(out)?.[1];
  if (candidate === undefined || candidate === '(none)') throw new Error(`Debian has no package ${name} (apt-cache policy ${name})`);
  return candidate;
}

async function debPackage(deb: string): Promise<DebianPackage> {
  const [name, version] = (await runCommand('dpkg-deb', ['-f', deb, 'Package', 'Version'])).split('\n').map((l) => l.replace(/^\w+:\s*/, '').trim());
  if (!name || !version) throw new Error(`${deb} has no Package or Version field`);
  return { name, version };
}
