// The developer's local cluster (`npm run cluster -- up`, `npm start`): one per checkout, in
// APIACCESS_CLUSTER_DIR (default .local/cluster), reused while its processes run.
import { join, resolve } from 'node:path';
import { readClusterInfo, type ClusterInfo } from './cluster-info.ts';
import { expectedComponents, runningProcesses, startControlPlane, stopCluster } from './control-plane.ts';

export function clusterDir(): string {
  return resolve(process.env.APIACCESS_CLUSTER_DIR ?? join(import.meta.dirname, '..', '..', '.local', 'cluster'));
}

export interface UpOptions {
  /** Start the machine's one node too (default true). */
  readonly node?: boolean;
}

export function isComplete(info: ClusterInfo): boolean {
  const running = new Set(runningProcesses(info).map((p) => p.name));
  return expectedComponents(info).every((name) => running.has(name));
}

/** Starts the cluster in `dir` unless it already runs there (idempotent). */
export async function ensureUp(dir: string, options: UpOptions = {}): Promise<ClusterInfo> {
  const withNode = options.node ?? true;
  const existing = await readClusterInfo(dir);
  if (existing && isComplete(existing)) {
    if (withNode && !existing.node) {
      throw new Error(`The local cluster in ${dir} runs without a node: stop it first (npm run cluster -- down), then start it again with a node`);
    }
    console.log(`Local cluster already runs at ${existing.server} (state in ${dir})`);
    return existing;
  }
  if (existing) {
    console.log(`Replacing an incomplete local cluster in ${dir}`);
    for (const line of await stopCluster(existing)) console.log(`  restored ${line}`);
  }
  const info = await startControlPlane({ dir, node: withNode });
  console.log(`Local cluster runs at ${info.server} (state and logs in ${dir})`);
  if (info.node) console.log(`Node ${info.node.name} is Ready (containerd at ${info.node.containerdAddress})`);
  console.log(`Users: admin (system:masters), alice (no rights), kip-agent (client certificate, O=apiaccess:kip): ${dir}/<user>.kubeconfig`);
  return info;
}
