// `npm run cluster -- up [--no-node] | down | status`: the local cluster in the background, for
// people. Tests do not use this one: test/run.ts starts its own in a fresh folder, so the two never
// share state (but they share the machine's one node: see node-lock.ts).
import { rm } from 'node:fs/promises';
import { apiJson } from './api-request.ts';
import { readClusterInfo, type ClusterInfo } from './cluster-info.ts';
import { expectedComponents, runningProcesses, stopCluster } from './control-plane.ts';
import { assertNothingMountedUnder } from './host-state.ts';
import { clusterDir, describeClientLimit, ensureUp, parseUpFlags, type UpOptions } from './local.ts';
import { describeNode } from './node.ts';
import { readNodeLock } from './node-lock.ts';

const USAGE = 'usage: npm run cluster -- up [--no-node] [--controller-manager-qps=N --controller-manager-burst=M] | down | status';

async function up(dir: string, flags: UpOptions): Promise<void> {
  printAccess(await ensureUp(dir, flags));
}

async function down(dir: string): Promise<void> {
  const info = await readClusterInfo(dir);
  if (!info) {
    console.log(`No local cluster in ${dir}`);
    return;
  }
  const started = Date.now();
  const restored = await stopCluster(info);
  for (const line of restored) console.log(`Restored: ${line}`);
  await assertNothingMountedUnder(dir);
  await rm(dir, { recursive: true, force: true });
  const what = restored.length > 0 ? ', restored the host as recorded before `up`' : '';
  console.log(`Stopped the local cluster${what} and removed ${dir} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
}

async function status(dir: string): Promise<void> {
  const info = await readClusterInfo(dir);
  if (!info) {
    console.log(`not running (no state in ${dir})`);
    const lock = await readNodeLock();
    if (lock) console.log(`The machine's node belongs to the cluster in ${lock.dir}`);
    return;
  }
  const running = new Set(runningProcesses(info).map((p) => p.name));
  const stopped = expectedComponents(info).filter((name) => !running.has(name));
  if (running.size === 0) {
    console.log(`not running (stale state in ${dir}; \`npm run cluster -- down\` removes it and restores the host)`);
    return;
  }
  const admin = { server: info.server, caFile: info.caFile, token: info.tokens.admin };
  const version = await apiJson<{ gitVersion: string }>(admin, 'GET', '/version').then(
    (v) => v.gitVersion,
    (error: Error) => `unknown (${error.message})`,
  );
  console.log(stopped.length === 0 ? 'running' : `degraded: ${stopped.join(', ')} not running`);
  console.log(`URL: ${info.server}`);
  console.log(`Server version: ${version} (etcd ${info.versions.etcd})`);
  console.log(`Controller manager: ${describeClientLimit(info.controllerManagerClient)}`);
  console.log(info.node ? `Node: ${await describeNode(admin)}` : 'Node: none (started with --no-node)');
  console.log(`KUBECONFIG=${info.kubeconfigs.admin}`);
}

/** The last line is the contract of `up`: scripts take the admin kubeconfig from it. */
function printAccess(info: ClusterInfo): void {
  console.log(`KUBECONFIG=${info.kubeconfigs.admin}`);
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const dir = clusterDir();
  if (command === 'up') {
    const flags = parseUpFlags(rest);
    if ('error' in flags) {
      console.error(`${flags.error}\n${USAGE}`);
      return 2;
    }
    await up(dir, flags);
    return 0;
  }
  if (command === 'down' && rest.length === 0) {
    await down(dir);
    return 0;
  }
  if (command === 'status' && rest.length === 0) {
    await status(dir);
    return 0;
  }
  console.error(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  },
);
