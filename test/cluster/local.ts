// The developer's local control plane (`npm run cluster -- up`, `npm start`): one per checkout, in
// APIACCESS_CLUSTER_DIR (default .local/cluster), reused while its processes run.
import { join, resolve } from 'node:path';
import { readClusterInfo, type ClusterInfo } from './cluster-info.ts';
import { runningProcesses, startControlPlane, stopControlPlane } from './control-plane.ts';

export function clusterDir(): string {
  return resolve(process.env.APIACCESS_CLUSTER_DIR ?? join(import.meta.dirname, '..', '..', '.local', 'cluster'));
}

function isComplete(info: ClusterInfo): boolean {
  return info.processes.length === 3 && runningProcesses(info).length === 3;
}

/** Starts the control plane in `dir` unless it already runs there (idempotent). */
export async function ensureUp(dir: string): Promise<ClusterInfo> {
  const existing = await readClusterInfo(dir);
  if (existing && isComplete(existing)) {
    console.log(`Local control plane already runs at ${existing.server} (state in ${dir})`);
    return existing;
  }
  if (existing) {
    console.log(`Replacing an incomplete local control plane in ${dir}`);
    await stopControlPlane(existing);
  }
  const info = await startControlPlane({ dir });
  console.log(`Local control plane runs at ${info.server} (state and logs in ${dir})`);
  console.log(`Users: admin (system:masters), alice (no rights), kip-agent (client certificate, O=apiaccess:kip): ${dir}/<user>.kubeconfig`);
  return info;
}
