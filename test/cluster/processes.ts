// Control-plane components run detached (their own process group, output to a log file), so that
// `npm run cluster -- up` can return while they keep running; they are later stopped by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ComponentProcess {
  readonly name: string;
  readonly pid: number;
  readonly binary: string;
  readonly logFile: string;
}

export interface Started extends ComponentProcess {
  /** Resolves with a description when the process ends, so readiness waits can fail fast. */
  readonly exited: Promise<string>;
}

const STOP_GRACE_MS = 10_000;

export function startDetached(name: string, binary: string, args: readonly string[], logFile: string, env?: NodeJS.ProcessEnv): Started {
  const log = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(binary, args, { detached: true, stdio: ['ignore', log, log], env: env ?? process.env });
  } finally {
    closeSync(log);
  }
  if (child.pid === undefined) throw new Error(`Could not start ${name} (${binary})`);
  const exited = new Promise<string>((resolve) => {
    child.on('error', (error) => resolve(`failed to start: ${error.message}`));
    child.on('exit', (code, signal) => resolve(signal ? `killed by ${signal}` : `exited with code ${code}`));
  });
  child.unref();
  return { name, pid: child.pid, binary, logFile, exited };
}

/** True when a process with this PID exists (EPERM: it exists but belongs to another user). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True when `pid` still runs `binary`: a PID from an old state file may have been reused by an
 * unrelated process, which must never be signalled.
 */
export function isRunning(proc: ComponentProcess): boolean {
  try {
    const argv0 = readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8').split('\0')[0];
    const state = readFileSync(`/proc/${proc.pid}/stat`, 'utf8');
    // A zombie has exited and only waits for its parent to reap it.
    return argv0 === proc.binary && !/^\d+ \(.*\) Z /.test(state);
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after a grace period; resolves when the process is gone. */
export async function stopProcess(proc: ComponentProcess, graceMs = STOP_GRACE_MS): Promise<void> {
  if (!signal(proc, 'SIGTERM')) return;
  const deadline = Date.now() + graceMs;
  while (isRunning(proc)) {
    if (Date.now() > deadline) {
      signal(proc, 'SIGKILL');
      await sleep(100);
      continue;
    }
    await sleep(50);
  }
}

function signal(proc: ComponentProcess, sig: NodeJS.Signals): boolean {
  if (!isRunning(proc)) return false;
  try {
    process.kill(proc.pid, sig);
    return true;
  } catch {
    return false;
  }
}

export async function logTail(logFile: string, lines = 30): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
