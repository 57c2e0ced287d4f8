// `npm run bench`: the operator's speed and cost on the local cluster (control plane and the real
// node), as ratios against a raw baseline measured in the same run. Starts the checkout's local
// cluster (or reuses it when it already runs with the bench's controller manager limit), installs
// the operator from the synthesized manifests as a user does (its image on the node; scaled to one
// replica), measures each size, then the N-independent figures, and writes results.json and
// results.md (docs/benchmarks/ by default; README.md there says how to read them). Every phase is
// bounded; a failed one is recorded and the run goes on. Nothing here asserts a timing.
//   npm run bench                          N = 1000 and 10,000
//   npm run bench -- --sizes 200           a quick run
import { execFileSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_BURST, DEFAULT_QPS, KubeClient } from '../../operator/kube/client.ts';
import { WORKLOAD_WORKERS } from '../../operator/manager.ts';
import { readClusterInfo, type ClusterInfo } from '../cluster/cluster-info.ts';
import { stopCluster, type ClientLimit } from '../cluster/control-plane.ts';
import { assertNothingMountedUnder } from '../cluster/host-state.ts';
import { clusterDir, describeClientLimit, ensureUp, hasClientLimit, isComplete } from '../cluster/local.ts';
import { adminClientFor } from '../install.ts';
import { prometheusToken, serviceAccountToken } from '../metrics.ts';
import { installAsAUser } from '../user-install.ts';
import { OperatorUnderTest } from './operator.ts';
import { formatDuration, runPhase, type Log, type PhaseContext } from './phase.ts';
import {
  authSwitch,
  cleanUpSize,
  cliStartup,
  deleteBenchNamespaces,
  idle,
  idleMemory,
  initialBind,
  labelLatency,
  prepareSize,
  rawCeiling,
  rbacChurn,
  sarHeavy,
  type Bench,
  type SizeRun,
} from './phases.ts';
import { proxyOverhead } from './proxy-overhead.ts';
import { markdown, summaryTable, type BenchResults, type PhaseResult, type SizeResult } from './report.ts';

const repoRoot = resolve(import.meta.dirname, '..', '..');
const TOKEN_SECONDS = 86_400;

interface Options {
  sizes: number[];
  skip10k: boolean;
  out: string;
  phaseTimeout: number;
  controllerManagerQps: number;
  controllerManagerBurst: number;
  latencySamples: number;
  idleSeconds: number;
  churnUpdates: number;
  cliRuns: number;
  keepCluster: boolean;
}

function positiveInteger(name: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${name}: expected a positive integer, got ${JSON.stringify(value)}`);
    return n;
  };
}

function sizeList(value: string): number[] {
  return value.split(',').map(positiveInteger('--sizes'));
}

function parseOptions(argv: readonly string[]): Options {
  const program = new Command('npm run bench --')
    .description('the benchmark suite on the local cluster: ratios measured in one run, written as JSON and Markdown')
    .option('--sizes <list>', 'numbers of workloads, comma-separated', sizeList, [1000, 10_000])
    .option('--skip-10k', 'leave out N = 10,000 (a shorter run)', false)
    .option('--out <dir>', 'where results.json and results.md are written', join(repoRoot, 'docs', 'benchmarks'))
    .option('--phase-timeout <minutes>', 'a phase that takes longer fails (recorded) and the run goes on', positiveInteger('--phase-timeout'), 15)
    .option('--controller-manager-qps <n>', "the controller manager's client limit (its default 20 held Deployments to ~5.5 template changes/s)", positiveInteger('--controller-manager-qps'), 300)
    .option('--controller-manager-burst <n>', "the controller manager's client burst", positiveInteger('--controller-manager-burst'), 600)
    .option('--latency-samples <n>', 'Deployments labelled one at a time for the latency', positiveInteger('--latency-samples'), 50)
    .option('--idle-seconds <s>', 'how long the idle operator is watched', positiveInteger('--idle-seconds'), 60)
    .option('--churn-updates <n>', 'updates of the referenced ClusterRole', positiveInteger('--churn-updates'), 100)
    .option('--cli-runs <n>', 'runs of each CLI command (the median is reported)', positiveInteger('--cli-runs'), 7)
    .option('--keep-cluster', 'leave a cluster this run started running afterwards', false)
    .parse(argv, { from: 'user' });
  const opts = program.opts<Options>();
  return { ...opts, sizes: opts.sizes.filter((n) => !(opts.skip10k && n === 10_000)) };
}

function git(args: readonly string[]): string {
  try {
    return execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** The checkout's local cluster with the node and the bench's controller manager limit; `started` when this run started it. */
async function benchCluster(limit: ClientLimit, log: Log): Promise<{ info: ClusterInfo; started: boolean }> {
  const dir = clusterDir();
  const existing = await readClusterInfo(dir);
  if (existing && isComplete(existing) && existing.node && hasClientLimit(existing, limit)) {
    log(`Reusing the local cluster in ${dir} (${describeClientLimit(limit)})`);
    return { info: existing, started: false };
  }
  if (existing && isComplete(existing)) {
    log(`The local cluster in ${dir} runs with ${describeClientLimit(existing.controllerManagerClient)}${existing.node ? '' : ' and no node'}: restarting it with ${describeClientLimit(limit)}`);
    await stopCluster(existing);
  }
  return { info: await ensureUp(dir, { node: true, controllerManagerClient: limit }), started: true };
}

async function stopBenchCluster(info: ClusterInfo, removeState: boolean, log: Log): Promise<void> {
  await stopCluster((await readClusterInfo(info.dir)) ?? info);
  if (removeState) {
    await assertNothingMountedUnder(info.dir);
    await rm(info.dir, { recursive: true, force: true });
    log(`Stopped the local cluster and removed ${info.dir}`);
  } else {
    log(`Stopped the local cluster; its logs stay in ${info.dir} (npm run cluster -- down removes them)`);
  }
}

function setupClient(info: ClusterInfo): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromFile(info.kubeconfigs.admin);
  return KubeClient.fromKubeConfig(kc, { userAgent: 'apiaccess-bench', qps: 5000, burst: 5000 });
}

type Phase = (ctx: PhaseContext) => Promise<void>;

async function measureSize(b: Bench, n: number, timeoutMs: number): Promise<SizeResult> {
  const phases: PhaseResult[] = [];
  let size: SizeRun | undefined;
  const step = async (name: string, fn: Phase): Promise<boolean> => {
    const result = await runPhase(`N=${n} ${name}`, timeoutMs, b.log, fn);
    phases.push({ ...result, phase: name });
    return result.ok;
  };
  const prepared = await step('set-up', async (ctx) => {
    size = await prepareSize(b, n, ctx);
  });
  if (!prepared || size === undefined) return { workloads: n, phases };
  const s = size;
  await step('raw server-side apply', (ctx) => rawCeiling(b, s, ctx));
  await step('initial bind', (ctx) => initialBind(b, s, ctx));
  await step('label -> injected latency', (ctx) => labelLatency(b, s, ctx));
  await step('idle', (ctx) => idle(b, ctx));
  await step('auth switch', (ctx) => authSwitch(b, s, ctx));
  await step('clean-up', (ctx) => cleanUpSize(b, s, ctx));
  return { workloads: n, phases, ...(s.bindRequests ? { bindRequests: s.bindRequests } : {}) };
}

async function main(argv: readonly string[]): Promise<number> {
  const opts = parseOptions(argv);
  const startedAt = performance.now();
  const log: Log = (message) => console.log(`[bench ${formatDuration(performance.now() - startedAt).padStart(8)}] ${message}`);
  const timeoutMs = opts.phaseTimeout * 60_000;
  const limit = { qps: opts.controllerManagerQps, burst: opts.controllerManagerBurst };
  log(`Sizes ${opts.sizes.join(', ') || 'none'}; results into ${opts.out}`);
  const cluster = await benchCluster(limit, log);
  const { info } = cluster;
  const admin = adminClientFor(info);
  const setup = setupClient(info);
  const once: PhaseResult[] = [];
  const sizes: SizeResult[] = [];
  let operatorNode = 'unknown';
  const results = (): BenchResults => ({
    date: new Date().toISOString(),
    commit: git(['rev-parse', '--short', 'HEAD']),
    uncommitted: git(['status', '--porcelain', '--', 'crds', 'operator', 'manifests']).split('\n').filter(Boolean).map((l) => l.slice(3)),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model.trim() ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), kernel: release() },
    versions: { node: process.version, operatorNode, kubernetes: info.versions.kubernetes, etcd: info.versions.etcd },
    settings: {
      'operator replicas': 1,
      'workload workers': WORKLOAD_WORKERS,
      'operator client': `${DEFAULT_QPS} qps / burst ${DEFAULT_BURST}`,
      'controller manager client': `${limit.qps} qps / burst ${limit.burst}`,
      'phase timeout': `${opts.phaseTimeout} min`,
    },
    sizes,
    once,
    durationSeconds: (performance.now() - startedAt) / 1000,
  });
  let ok = false;
  try {
    const install = await runPhase('install', timeoutMs, log, async () => {
      await installAsAUser(info, { examples: false });
      await prometheusToken(admin);
    });
    once.push(install);
    if (install.ok) {
      const token = await serviceAccountToken(admin, 'monitoring', 'prometheus', TOKEN_SECONDS);
      const bench: Bench = { info, admin, setup, operator: new OperatorUnderTest(admin, token), run: Date.now().toString(36), log, options: opts };
      once.push(await runPhase('clean-up of earlier runs', timeoutMs, log, async (ctx) => void (await deleteBenchNamespaces(bench, ctx))));
      once.push(
        await runPhase('operator RSS at 0 workloads', timeoutMs, log, async (ctx) => {
          operatorNode = (await idleMemory(bench, ctx)).operatorNode;
        }),
      );
      for (const n of opts.sizes) sizes.push(await measureSize(bench, n, timeoutMs));
      once.push(await runPhase('SAR-heavy profile', timeoutMs, log, (ctx) => sarHeavy(bench, ctx)));
      once.push(await runPhase('RBAC churn', timeoutMs, log, (ctx) => rbacChurn(bench, ctx)));
      once.push(await runPhase('CLI start-up', timeoutMs, log, (ctx) => cliStartup(bench, repoRoot, ctx)));
      once.push(await runPhase('Proxy mode per request', timeoutMs, log, (ctx) => proxyOverhead(bench, repoRoot, ctx)));
      once.push(await runPhase('clean-up', timeoutMs, log, async (ctx) => void (await deleteBenchNamespaces(bench, ctx, bench.run))));
    }
  } finally {
    const final = results();
    await mkdir(opts.out, { recursive: true });
    await writeFile(join(opts.out, 'results.json'), `${JSON.stringify(final, null, 2)}\n`);
    await writeFile(join(opts.out, 'results.md'), `${markdown(final)}\n`);
    admin.close();
    setup.close();
    console.log(`\n${summaryTable(final)}\n`);
    log(`Wrote ${join(opts.out, 'results.json')} and results.md`);
    ok = allPhases(final).every((p) => p.ok);
    if (cluster.started && !opts.keepCluster) await stopBenchCluster(info, ok, log);
  }
  return ok ? 0 : 1;
}

function allPhases(results: BenchResults): PhaseResult[] {
  return [...results.once, ...results.sizes.flatMap((s) => s.phases)];
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
