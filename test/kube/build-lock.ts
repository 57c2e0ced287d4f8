// A cross-process lock so that concurrent test runs build each binary once: mkdir is atomic, and
// the owner's PID inside lets a later run break the lock of a build that was killed.
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { processExists } from '../cluster/processes.ts';

const POLL_MS = 1_000;
const ANNOUNCE_EVERY_MS = 30_000;
/** A lock folder without an owner file is a crash between mkdir and write, unless it is this young. */
const OWNERLESS_GRACE_MS = 10_000;

export async function withLock<T>(lockDir: string, work: () => Promise<T>): Promise<T> {
  await acquire(lockDir);
  try {
    return await work();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

async function acquire(lockDir: string): Promise<void> {
  const waitingSince = Date.now();
  let announced = 0;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(join(lockDir, 'owner'), `${process.pid}\n`);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = await lockOwner(lockDir);
    if (owner === 'stale') {
      await rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() - announced >= ANNOUNCE_EVERY_MS) {
      const waited = Math.round((Date.now() - waitingSince) / 1000);
      process.stderr.write(`[kube] Waiting for the build of process ${owner} to finish (${lockDir}, ${waited}s)\n`);
      announced = Date.now();
    }
    await sleep(POLL_MS);
  }
}

async function lockOwner(lockDir: string): Promise<number | 'stale' | 'unknown'> {
  const pid = Number.parseInt(await readFile(join(lockDir, 'owner'), 'utf8').catch(() => ''), 10);
  if (Number.isInteger(pid) && pid > 0) return processExists(pid) ? pid : 'stale';
  const created = await stat(lockDir).then((s) => s.mtimeMs, () => 0);
  return Date.now() - created > OWNERLESS_GRACE_MS ? 'stale' : 'unknown';
}

