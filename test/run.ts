// `npm test`: node 20's test runner has no global setup and runs each file in its own process, so
// this runner starts ONE local control plane, hands it to every test process through
// APIACCESS_TEST_CLUSTER, runs `node --test`, and stops the control plane silently afterwards so
// that node's summary stays the last thing printed.
//   npx tsx test/run.ts                      every *.test.ts under crds/, operator/, manifests/, test/
//   npx tsx test/run.ts test/x.test.ts ...   only these files
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { clusterInfoPath, readClusterInfo } from './cluster/cluster-info.ts';
import { startControlPlane, stopControlPlane } from './cluster/control-plane.ts';
import { TEST_CLUSTER_ENV } from './harness.ts';
import { processExists } from './cluster/processes.ts';

const repoRoot = resolve(import.meta.dirname, '..');
const TEST_ROOTS = ['crds', 'operator', 'manifests', 'test'];
const SKIPPED_DIRS = new Set(['node_modules', join('manifests', 'dist')]);
const CLUSTER_DIR_PREFIX = 'apiaccess-test-cluster-';
const RUNNER_PID_FILE = 'runner.pid';

async function findTestFiles(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name.startsWith('.') || SKIPPED_DIRS.has(entry.name) || SKIPPED_DIRS.has(relative(repoRoot, path))) continue;
      found.push(...(await findTestFiles(path)));
    } else if (entry.name.endsWith('.test.ts')) {
      found.push(path);
    }
  }
  return found.sort();
}

/** Control planes of earlier runs that were killed before they could stop them (CI timeout, kill -9). */
async function stopAbandonedClusters(): Promise<void> {
  for (const entry of await readdir(tmpdir())) {
    if (!entry.startsWith(CLUSTER_DIR_PREFIX)) continue;
    const root = join(tmpdir(), entry);
    const owner = Number.parseInt(await readFile(join(root, RUNNER_PID_FILE), 'utf8').catch(() => ''), 10);
    if (!Number.isInteger(owner) || processExists(owner)) continue;
    const info = await readClusterInfo(join(root, 'cluster')).catch(() => undefined);
    if (info) await stopControlPlane(info);
    await rm(root, { recursive: true, force: true });
  }
}


interface TestRun {
  readonly code: number;
  readonly interrupted: boolean;
}

async function runNodeTests(files: readonly string[], clusterFile: string): Promise<TestRun> {
  // Test files wait on the API server far more than they compute: run several at once. Each file uses
  // its own namespaces (and its own operator process), so they do not see each other's objects.
  const concurrency = process.env.APIACCESS_TEST_CONCURRENCY ?? '4';
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files], {
    cwd: repoRoot,
    stdio: 'inherit',
    env: { ...process.env, [TEST_CLUSTER_ENV]: clusterFile },
  });
  // Ctrl-C reaches the child through the terminal's process group; a plain `kill` of this runner does not.
  let interrupted = false;
  process.on('SIGTERM', () => {
    interrupted = true;
    child.kill('SIGTERM');
  });
  process.on('SIGINT', () => {
    interrupted = true;
  });
  return await new Promise<TestRun>((resolveRun) => {
    child.on('close', (code, signal) => resolveRun({ code: code ?? (signal === 'SIGINT' ? 130 : 1), interrupted }));
  });
}

async function main(args: readonly string[]): Promise<number> {
  const files = args.length > 0 ? args.map((f) => resolve(f)) : (await Promise.all(TEST_ROOTS.map((r) => findTestFiles(join(repoRoot, r))))).flat();
  if (files.length === 0) {
    console.error('No *.test.ts files found');
    return 1;
  }
  await stopAbandonedClusters();
  const root = await mkdtemp(join(tmpdir(), CLUSTER_DIR_PREFIX));
  await writeFile(join(root, RUNNER_PID_FILE), `${process.pid}\n`);
  const dir = join(root, 'cluster');
  const stop = async (keepLogs: boolean): Promise<void> => {
    const info = await readClusterInfo(dir).catch(() => undefined);
    if (info) await stopControlPlane(info);
    // Kept logs are removed by the next run (its stopAbandonedClusters), as this runner is gone then.
    if (!keepLogs) await rm(root, { recursive: true, force: true });
  };
  // An interrupted start must not leave etcd and kube-apiserver behind.
  let stopping: Promise<void> | undefined;
  const interrupted = (): void => {
    stopping = stop(false);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    await startControlPlane({ dir, log: (line) => console.error(line) });
  } catch (error) {
    if (stopping) {
      // The start failed because the interruption stopped its components: not worth a message.
      await stopping;
      return 130;
    }
    await stop(false);
    throw error;
  }
  if (stopping) {
    // Interrupted while the binaries were building: the components started after the first stop.
    await stopping;
    await stop(false);
    return 130;
  }
  process.off('SIGINT', interrupted);
  process.off('SIGTERM', interrupted);
  console.error(`[cluster] Running ${files.length} test file(s); control plane logs in ${dir} (kept if a test fails)`);
  const run = await runNodeTests(files, clusterInfoPath(dir));
  await stop(run.code !== 0 && !run.interrupted);
  return run.code;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
