// `npm test`: node 20's test runner has no global setup and runs each file in its own process, so
// this runner starts ONE local cluster (control plane and the machine's one node), hands it to every
// test process through APIACCESS_TEST_CLUSTER, runs `node --test`, and stops the cluster silently
// afterwards (restoring the host) so that node's summary stays the last thing printed.
// Host tests (HOST_TEST_FILES) start and stop a node of their own, and only one node can run per
// machine: they run first, in a `node --test` of their own, before the shared cluster starts.
//   npx tsx test/run.ts                      every *.test.ts under crds/, operator/, manifests/, test/
//   npx tsx test/run.ts test/x.test.ts ...   only these files
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { clusterInfoPath, readClusterInfo } from './cluster/cluster-info.ts';
import { startControlPlane, stopCluster } from './cluster/control-plane.ts';
import { assertNothingMountedUnder } from './cluster/host-state.ts';
import { TEST_CLUSTER_ENV } from './harness.ts';
import { installAsAUser } from './user-install.ts';
import { processExists } from './cluster/processes.ts';

const repoRoot = resolve(import.meta.dirname, '..');
const TEST_ROOTS = ['crds', 'operator', 'manifests', 'test'];
const SKIPPED_DIRS = new Set(['node_modules', join('manifests', 'dist')]);
const CLUSTER_DIR_PREFIX = 'apiaccess-test-cluster-';
const RUNNER_PID_FILE = 'runner.pid';
/** Tests that need the machine's node slot for themselves (they bring a node up and down). */
const HOST_TEST_FILES = new Set([join(repoRoot, 'test', 'cluster', 'host-restore.test.ts')]);

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
    // Also restores what its node changed on the host, before the folder with the record goes.
    for (const dir of await readdir(root)) {
      const info = await readClusterInfo(join(root, dir)).catch(() => undefined);
      if (info) await stopCluster(info);
    }
    await assertNothingMountedUnder(root);
    await rm(root, { recursive: true, force: true });
  }
}


interface TestRun {
  readonly code: number;
  readonly interrupted: boolean;
}

async function runNodeTests(files: readonly string[], clusterFile?: string): Promise<TestRun> {
  // Test files wait on the API server far more than they compute: run several at once. Each file uses
  // its own namespaces (and its own operator process), so they do not see each other's objects.
  const concurrency = process.env.APIACCESS_TEST_CONCURRENCY ?? '4';
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files], {
    cwd: repoRoot,
    stdio: 'inherit',
    env: { ...process.env, ...(clusterFile ? { [TEST_CLUSTER_ENV]: clusterFile } : {}) },
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
  const hostFiles = files.filter((f) => HOST_TEST_FILES.has(f));
  const sharedFiles = files.filter((f) => !HOST_TEST_FILES.has(f));
  let hostCode = 0;
  if (hostFiles.length > 0) {
    console.error(`[cluster] Running ${hostFiles.length} host test file(s) before the shared cluster starts (they need the machine's node)`);
    const hostRun = await runNodeTests(hostFiles);
    if (hostRun.interrupted) return hostRun.code;
    hostCode = hostRun.code;
  }
  if (sharedFiles.length === 0) return hostCode;
  const root = await mkdtemp(join(tmpdir(), CLUSTER_DIR_PREFIX));
  await writeFile(join(root, RUNNER_PID_FILE), `${process.pid}\n`);
  const dir = join(root, 'cluster');
  const stop = async (keepLogs: boolean): Promise<void> => {
    // The shared cluster and any private control plane a test file started beside it.
    for (const entry of await readdir(root)) {
      const info = await readClusterInfo(join(root, entry)).catch(() => undefined);
      if (info) await stopCluster(info);
    }
    // Kept logs are removed by the next run (its stopAbandonedClusters), as this runner is gone then.
    if (!keepLogs) {
      await assertNothingMountedUnder(root);
      await rm(root, { recursive: true, force: true });
    }
  };
  // An interrupted start must not leave etcd and kube-apiserver behind.
  let stopping: Promise<void> | undefined;
  const interrupted = (): void => {
    stopping = stop(false);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const info = await startControlPlane({ dir, node: true, log: (line) => console.error(line) });
    // The operator and the examples, installed as a user installs them (as `npm start` does).
    const started = Date.now();
    const { leader } = await installAsAUser(info, { examples: true });
    console.error(`[cluster] Installed the operator (leader ${leader}) and the examples with kubectl in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  } catch (error) {
    if (stopping) {
      // The start failed because the interruption stopped its components: not worth a message.
      await stopping;
      return 130;
    }
    await stop(true);
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n(cluster logs kept in ${dir})`);
  }
  if (stopping) {
    // Interrupted while the binaries were building: the components started after the first stop.
    await stopping;
    await stop(false);
    return 130;
  }
  process.off('SIGINT', interrupted);
  process.off('SIGTERM', interrupted);
  console.error(`[cluster] Running ${sharedFiles.length} test file(s); cluster logs in ${dir} (kept if a test fails)`);
  const run = await runNodeTests(sharedFiles, clusterInfoPath(dir));
  await stop(run.code !== 0 && !run.interrupted);
  return run.code !== 0 ? run.code : hostCode;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
