// One local node per machine: iptables chains, kube-proxy's rules, the node address and the kubepods
// cgroups are machine-wide. The lock is a file in /run (gone after a reboot, as is the host state
// it protects) naming the owner's cluster folder and the process that started it; it also keeps a
// copy of the owner's host record, so that a dead owner can be cleaned up after even when its
// folder is gone.
import { readFileSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { HostState } from './host-state.ts';

export const NODE_LOCK_FILE = '/run/apiaccess-node.json';

export interface NodeLock {
  readonly dir: string;
  readonly pid: number;
  /** Start time of `pid` (field 22 of /proc/<pid>/stat): a reused PID is not the owner. */
  readonly pidStart: string;
  readonly startedAt: string;
  readonly hostState?: HostState;
}

export class NodeBusyError extends Error {
  readonly code = 'NodeBusy';
  constructor(readonly lock: NodeLock) {
    super(
      `Another local cluster runs the node on this machine (state in ${lock.dir}, started by process ${lock.pid} at ${lock.startedAt}); ` +
        `only one node can run per machine. Stop it with: APIACCESS_CLUSTER_DIR=${lock.dir} npm run cluster -- down ` +
        '(or start this cluster without a node: npm run cluster -- up --no-node)',
    );
  }
}

export interface LockHooks {
  /** True while the owner's node still runs (its processes, beyond the process that started it). */
  readonly ownerAlive: (lock: NodeLock) => Promise<boolean>;
  /** Stops what is left of a dead owner's node and restores the host it changed. */
  readonly cleanUpAfter: (lock: NodeLock) => Promise<void>;
}

/** Takes the machine's node slot for `dir`, cleaning up after a dead owner first. */
export async function acquireNodeLock(dir: string, hooks: LockHooks): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const lock: NodeLock = { dir, pid: process.pid, pidStart: processStart(process.pid) ?? '', startedAt: new Date().toISOString() };
    try {
      await writeFile(NODE_LOCK_FILE, `${JSON.stringify(lock, null, 2)}\n`, { flag: 'wx', mode: 0o644 });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = await readNodeLock();
    if (!owner) continue;
    if (owner.dir === dir && owner.pid === process.pid) return;
    if (isOwnerProcess(owner) || (await hooks.ownerAlive(owner))) throw new NodeBusyError(owner);
    process.stderr.write(`[cluster] Cleaning up after the node of a dead cluster in ${owner.dir}\n`);
    await hooks.cleanUpAfter(owner);
    await rm(NODE_LOCK_FILE, { force: true });
  }
  throw new Error(`Could not take ${NODE_LOCK_FILE}: it keeps changing`);
}

/** Adds the host record to this folder's lock. */
export async function recordInNodeLock(dir: string, hostState: HostState): Promise<void> {
  const lock = await readNodeLock();
  if (lock?.dir !== dir) throw new Error(`${NODE_LOCK_FILE} does not belong to ${dir}`);
  // A rename, so that a reader never sees half a lock.
  const staging = `${NODE_LOCK_FILE}.${process.pid}`;
  await writeFile(staging, `${JSON.stringify({ ...lock, hostState }, null, 2)}\n`, { mode: 0o644 });
  await rename(staging, NODE_LOCK_FILE);
}

export async function readNodeLock(): Promise<NodeLock | undefined> {
  const text = await readFile(NODE_LOCK_FILE, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as NodeLock;
  } catch {
    // Created with O_EXCL in one write, but a crash mid-write could still tear it: it holds nothing.
    return { dir: '(unreadable lock)', pid: 0, pidStart: '', startedAt: '' };
  }
}

/** Releases the lock when `dir` holds it; true if it did. */
export async function releaseNodeLock(dir: string): Promise<boolean> {
  const lock = await readNodeLock();
  if (lock?.dir !== dir) return false;
  await rm(NODE_LOCK_FILE, { force: true });
  return true;
}

function isOwnerProcess(lock: NodeLock): boolean {
  return lock.pid > 0 && processStart(lock.pid) === lock.pidStart;
}

function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
