// Crashes and restarts a running control plane's kube-apiserver with exactly the flags it was started
// with (read back from /proc, so nothing about its start has to be kept elsewhere). etcd keeps the
// state; clients see a refused connection while it is down, as after a real crash of the process.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { apiRequest } from './api-request.ts';
import { writeClusterInfo, type ClusterInfo } from './cluster-info.ts';
import { isRunning, logTail, startDetached, type ComponentProcess } from './processes.ts';

const APISERVER = 'kube-apiserver';

/** How a killed kube-apiserver was started: pass it to `startApiserverAgain`. */
export interface KilledApiserver {
  readonly binary: string;
  readonly args: readonly string[];
  readonly logFile: string;
}

/** SIGKILLs the control plane's kube-apiserver and resolves once the process is gone. */
export async function killApiserver(info: ClusterInfo): Promise<KilledApiserver> {
  const proc = apiserverOf(info);
  const [binary, ...args] = readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  process.kill(proc.pid, 'SIGKILL');
  while (isRunning(proc)) await sleep(50);
  return { binary: binary ?? proc.binary, args, logFile: proc.logFile };
}

/**
 * Starts kube-apiserver again with the flags it had, waits for /readyz, and records the new PID in
 * the cluster's cluster.json (so that stopping the cluster stops the new process). Returns the
 * updated description.
 */
export async function startApiserverAgain(info: ClusterInfo, killed: KilledApiserver, timeoutMs = 180_000): Promise<ClusterInfo> {
  const started = startDetached(APISERVER, killed.binary, killed.args, killed.logFile);
  const processes: ComponentProcess[] = info.processes.map((p) =>
    p.name === APISERVER ? { name: started.name, pid: started.pid, binary: started.binary, logFile: started.logFile } : p,
  );
  const updated: ClusterInfo = { ...info, processes };
  await writeClusterInfo(updated);
  let exited: string | undefined;
  void started.exited.then((why) => (exited = why));
  const admin = { server: info.server, caFile: info.caFile, token: info.tokens.admin };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited !== undefined) throw new Error(`kube-apiserver ${exited} after its restart; last lines of ${killed.logFile}:\n${await logTail(killed.logFile)}`);
    const ready = await apiRequest(admin, 'GET', '/readyz', undefined, 5_000).then((r) => r.status === 200, () => false);
    if (ready) return updated;
    if (Date.now() > deadline) throw new Error(`kube-apiserver was not ready ${timeoutMs / 1000} s after its restart; see ${join(info.dir, `${APISERVER}.log`)}`);
    await sleep(200);
  }
}

function apiserverOf(info: ClusterInfo): ComponentProcess {
  const proc = info.processes.find((p) => p.name === APISERVER);
  if (proc === undefined || !isRunning(proc)) throw new Error(`No running kube-apiserver in the control plane of ${info.dir}`);
  return proc;
}
