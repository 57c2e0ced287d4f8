// `npm run cluster -- up | down | status`: the local control plane in the background, for people.
// Tests do not use this one: test/run.ts starts its own in a fresh folder, so the two never collide.
import { rm } from 'node:fs/promises';
import { apiJson } from './api-request.ts';
import { readClusterInfo, type ClusterInfo } from './cluster-info.ts';
import { runningProcesses, stopControlPlane } from './control-plane.ts';
import { clusterDir, ensureUp } from './local.ts';

const USAGE = 'usage: npm run cluster -- up | down | status';

async function up(dir: string): Promise<void> {
  printAccess(await ensureUp(dir));
}

async function down(dir: string): Promise<void> {
  const info = await readClusterInfo(dir);
  if (!info) {
    console.log(`No local control plane in ${dir}`);
    return;
  }
  await stopControlPlane(info);
  await rm(dir, { recursive: true, force: true });
  console.log(`Stopped the local control plane and removed ${dir}`);
}

async function status(dir: string): Promise<void> {
  const info = await readClusterInfo(dir);
  if (!info) {
    console.log(`not running (no state in ${dir})`);
    return;
  }
  const running = new Set(runningProcesses(info).map((p) => p.name));
  const stopped = info.processes.filter((p) => !running.has(p.name)).map((p) => p.name);
  if (running.size === 0) {
    console.log(`not running (stale state in ${dir}; \`npm run cluster -- down\` removes it)`);
    return;
  }
  const version = await apiJson<{ gitVersion: string }>(
    { server: info.server, caFile: info.caFile, token: info.tokens.admin },
    'GET',
    '/version',
  ).then((v) => v.gitVersion, (error: Error) => `unknown (${error.message})`);
  console.log(stopped.length === 0 ? 'running' : `degraded: ${stopped.join(', ')} not running`);
  console.log(`URL: ${info.server}`);
  console.log(`Server version: ${version} (etcd ${info.versions.etcd})`);
  console.log(`KUBECONFIG=${info.kubeconfigs.admin}`);
}

/** The last line is the contract of `up`: scripts take the admin kubeconfig from it. */
function printAccess(info: ClusterInfo): void {
  console.log(`KUBECONFIG=${info.kubeconfigs.admin}`);
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (rest.length > 0) {
    console.error(USAGE);
    return 2;
  }
  const dir = clusterDir();
  switch (command) {
    case 'up':
      await up(dir);
      return 0;
    case 'down':
      await down(dir);
      return 0;
    case 'status':
      await status(dir);
      return 0;
    default:
      console.error(USAGE);
      return 2;
  }
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
