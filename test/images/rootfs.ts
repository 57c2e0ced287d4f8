// Runs a program of an image the way a container with `readOnlyRootFilesystem: true` would, without
// a container runtime: the layers are unpacked into a folder, which is bind-mounted read-only in a
// private mount namespace (unshare) with /proc and /dev, and chrooted into as the given uid:gid.
// Needs root (mount namespaces); it proves that nothing in the image writes to its root filesystem.
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from './command.ts';

interface Descriptor {
  digest: string;
}

/** Unpacks the image's layers, in order, into a new folder under `parent`; returns it. */
export async function unpackRootfs(archive: string, parent: string): Promise<string> {
  const work = await mkdtemp(join(parent, 'oci-'));
  const rootfs = await mkdtemp(join(parent, 'rootfs-'));
  try {
    await runCommand('tar', ['-xf', archive, '-C', work]);
    const index = JSON.parse(await readFile(join(work, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
    const manifest = JSON.parse(await readFile(blob(work, index.manifests[0]), 'utf8')) as { layers: Descriptor[] };
    for (const layer of manifest.layers) await runCommand('tar', ['-xzf', blob(work, layer), '-C', rootfs]);
    // mkdtemp gives 0700; a container's root is 0755 (the image has no entry for '/').
    await chmod(rootfs, 0o755);
    // Mount points the container runtime provides; not part of the image.
    await mkdir(join(rootfs, 'proc'), { recursive: true });
    await mkdir(join(rootfs, 'dev'), { recursive: true });
    return rootfs;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs argv inside the read-only rootfs as `user` (uid:gid) with exactly `env`; never throws on a
 * non-zero exit. After `timeoutMs` the program gets SIGTERM (unshare, sh, env and chroot exec one
 * another, so the child's PID is the program's).
 */
export async function runReadOnly(rootfs: string, user: string, argv: readonly string[], env: readonly string[], timeoutMs = 60_000): Promise<RunResult> {
  const script = [
    'set -e',
    'root="$1"; user="$2"; shift 2',
    'mount --bind "$root" "$root"',
    'mount -o remount,bind,ro "$root"',
    'mount -t proc proc "$root/proc"',
    'mount --rbind /dev "$root/dev"',
    // env -i before chroot: the image has no env of its own.
    `exec /usr/bin/env -i ${env.map(shellQuote).join(' ')} /usr/sbin/chroot --userspec="$user" "$root" "$@"`,
  ].join('\n');
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', rootfs, user, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 + (signal === 'SIGTERM' ? 15 : 9) : -1), stdout, stderr });
    });
  });
}

function blob(dir: string, descriptor: Descriptor): string {
  return join(dir, 'blobs', 'sha256', descriptor.digest.replace(/^sha256:/, ''));
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
