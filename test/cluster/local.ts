// The developer's local cluster (`npm run cluster -- up`, `npm start`): one per checkout, in
// APIACCESS_CLUSTER_DIR (default .local/cluster), reused while its processes run.
import { join, resolve } from 'node:path';
import { readClusterInfo, type ClusterInfo } from './cluster-info.ts';
import { expectedComponents, runningProcesses, startControlPlane, stopCluster, type ClientLimit } from './control-plane.ts';

export function clusterDir(): string {
  return resolve(process.env.APIACCESS_CLUSTER_DIR ?? join(import.meta.dirname, '..', '..', '.local', 'cluster'));
}

export interface UpOptions {
  /** Start the machine's one node too (default true). */
  readonly node?: boolean;
  /**
   * The controller manager's client limit for a cluster this starts (default: its own, 20/s burst
   * 30). A running cluster is reused only when it has this limit; without the option any running one is.
   */
  readonly controllerManagerClient?: ClientLimit;
}

/** The flags of `npm run cluster -- up`, or a message naming the one that is wrong. */
export function parseUpFlags(flags: readonly string[]): UpOptions | { error: string } {
  let node = true;
  const limit: { qps?: number; burst?: number } = {};
  for (const flag of flags) {
    const match = /^--controller-manager-(qps|burst)=(.*)$/.exec(flag);
    if (flag === '--no-node') node = false;
    else if (match && /^[1-9][0-9]*$/.test(match[2]!)) limit[match[1] as 'qps' | 'burst'] = Number(match[2]);
    else if (match) return { error: `${flag}: expected a positive integer, got ${JSON.stringify(match[2])}` };
    else return { error: `unknown flag ${JSON.stringify(flag)}` };
  }
  if ((limit.qps === undefined) !== (limit.burst === undefined)) return { error: '--controller-manager-qps and --controller-manager-burst go together' };
  return limit.qps !== undefined && limit.burst !== undefined ? { node, controllerManagerClient: { qps: limit.qps, burst: limit.burst } } : { node };
}

/** Whether a running cluster has the controller manager client limit asked for (undefined: its defaults). */
export function hasClientLimit(info: ClusterInfo, wanted: ClientLimit | undefined): boolean {
  const actual = info.controllerManagerClient;
  return actual?.qps === wanted?.qps && actual?.burst === wanted?.burst;
}

export function describeClientLimit(limit: ClientLimit | undefined): string {
  return limit === undefined ? 'the default client limit (20/s, burst 30)' : `client limit ${limit.qps}/s, burst ${limit.burst}`;
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
    if (options.controllerManagerClient !== undefined && !hasClientLimit(existing, options.controllerManagerClient)) {
      throw new Error(
        `The local cluster in ${dir} runs its controller manager with ${describeClientLimit(existing.controllerManagerClient)}, not ${describeClientLimit(options.controllerManagerClient)}: ` +
          'stop it first (npm run cluster -- down), then start it again',
      );
    }
    console.log(`Local cluster already runs at ${existing.server} (state in ${dir})`);
    return existing;
  }
  if (existing) {
    console.log(`Replacing an incomplete local cluster in ${dir}`);
    for (const line of await stopCluster(existing)) console.log(`  restored ${line}`);
  }
  const limit = options.controllerManagerClient;
  const info = await startControlPlane({ dir, node: withNode, ...(limit ? { controllerManagerClient: limit } : {}) });
  console.log(`Local cluster runs at ${info.server} (state and logs in ${dir})`);
  if (info.node) console.log(`Node ${info.node.name} is Ready (containerd at ${info.node.containerdAddress})`);
  console.log(`Users: admin (system:masters), alice (no rights), kip-agent (client certificate, O=apiaccess:kip): ${dir}/<user>.kubeconfig`);
  return info;
}
