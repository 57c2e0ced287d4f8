// `npm run bench`: the operator's cost and speed on the local cluster (control plane and the real
// node), as ratios against a raw baseline measured in the same run. It starts a cluster of its own
// (state in .local/bench, stopped afterwards unless --keep), installs the operator from the
// synthesized manifests as a user does (its image on the node, two replicas, leader election),
// measures, and writes docs/benchmarks/results.json and results.md. How to read them:
// docs/benchmarks/README.md. Nothing here asserts a timing; test/bench/report.test.ts tests the
// arithmetic.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import { parseSpec, PROFILE_LABEL } from '../../crds/apiaccessprofile.ts';
import { podTemplateInjection } from '../../operator/desired/pod-template.ts';
import { resolveProfile } from '../../operator/desired/profile.ts';
import { workloadApplyConfig } from '../../operator/desired/workload.ts';
import type { KubeClient, KubeObject } from '../../operator/kube/client.ts';
import { WORKLOAD_WORKERS } from '../../operator/manager.ts';
import { auditEventsSince, auditMark } from '../audit.ts';
import { runProgram, serverKubectl } from '../clients.ts';
import type { ClusterInfo } from '../cluster/cluster-info.ts';
import { readClusterInfo } from '../cluster/cluster-info.ts';
import { startControlPlane, stopCluster } from '../cluster/control-plane.ts';
import { isComplete } from '../cluster/local.ts';
import { TEST_CLUSTER_ENV } from '../harness.ts';
import { adminClientFor, clientFor, holderPod, OPERATOR_NAMESPACE, OPERATOR_SA, waitForOperator, writeOperatorKubeconfig } from '../install.ts';
import { prometheusToken, scrape } from '../metrics.ts';
import { installAsAUser } from '../user-install.ts';
import { countsAsWork, difference, figure, gauge, isWrite, markdown, median, percentile, requestCounts, total, type BenchResults, type Figure, type RequestCounts, type SizeResult } from './report.ts';

const repoRoot = resolve(import.meta.dirname, '..', '..');
const BIN = join(repoRoot, 'operator', 'bin', 'apiaccess.js');
const HASH = 'apiaccess.dev/config-hash';
const FM = { fieldManager: 'apiaccess-bench', force: true };
const PHASE_TIMEOUT_MS = 15 * 60_000;
const LATENCY_SAMPLES = 50;
const IDLE_MS = 60_000;
const CHURN_UPDATES = 100;
const OPERATOR_USER = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SA}`;
/** The client concurrency of the admin that creates workloads (not measured). */
const SETUP_CONCURRENCY = 16;

const program = new Command('bench')
  .description('the benchmark suite on the local cluster')
  .option('--sizes <list>', 'numbers of workloads, comma-separated', '1000,10000')
  .option('--out <dir>', 'where results.json and results.md are written', join(repoRoot, 'docs', 'benchmarks'))
  .option('--keep', 'leave the bench cluster running afterwards', false)
  .parse();
const opts = program.opts<{ sizes: string; out: string; keep: boolean }>();
const sizes = opts.sizes.split(',').map((s) => {
  const n = Number(s.trim());
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--sizes: ${JSON.stringify(s)} is not a positive integer`);
    process.exit(2);
  }
  return n;
});

type Obj = KubeObject & { spec?: any; status?: any };

const started = Date.now();
const failures: string[] = [];
const log = (msg: string): void => console.log(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s] ${msg}`);

/** Runs a phase with a bound; a failure is recorded and the run goes on. */
async function phase<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
  log(`${name}...`);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${PHASE_TIMEOUT_MS / 60_000} min`)), PHASE_TIMEOUT_MS);
      }),
    ]);
  } catch (error) {
    const message = `${name}: ${(error as Error).message.split('\n')[0]}`;
    failures.push(message);
    log(`FAILED ${message}`);
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = PHASE_TIMEOUT_MS, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(intervalMs);
  }
}

/** Runs `fn` for 0..n-1 with `concurrency` in flight. */
async function pool(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

function deployment(ns: string, name: string, labels: Record<string, string>): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels },
    spec: { replicas: 0, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'example/app:1' }] } } },
  };
}

function profileObject(ns: string, name: string, spec: object): object {
  return { apiVersion: 'apiaccess.dev/v1alpha1', kind: 'ApiAccessProfile', metadata: { name, namespace: ns }, spec };
}

const profilePath = (ns: string, name: string): string => `/apis/apiaccess.dev/v1alpha1/namespaces/${ns}/apiaccessprofiles/${name}`;

async function condition(admin: KubeClient, ns: string, name: string, type: string): Promise<{ status: string; reason: string } | undefined> {
  const p = await admin.get<Obj>(profilePath(ns, name));
  if (p?.status?.observedGeneration !== p?.metadata.generation) return undefined;
  return (p?.status?.conditions as Array<{ type: string; status: string; reason: string }> | undefined)?.find((c) => c.type === type);
}

/** Applies, waiting out the author-stamping policy's 503s right after install. */
async function apply(admin: KubeClient, objects: readonly object[]): Promise<void> {
  for (const o of objects) {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.apply(o as KubeObject & { apiVersion: string; kind: string }, FM);
        break;
      } catch (error) {
        if ((error as { status?: number }).status !== 503 || attempt > 120) throw error;
        await sleep(500);
      }
    }
  }
}

/**
 * Every Deployment of a namespace as a watch reports it: when it was first seen labelled, and when
 * each config-hash first appeared. Timestamps are this process's clock at the event's arrival.
 */
class Tracker {
  readonly seen = new Map<string, { labelledAt?: number; hash?: string; hashAt?: number }>();
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly ns: string,
  ) {}

  async start(): Promise<void> {
    const path = `/apis/apps/v1/namespaces/${this.ns}/deployments`;
    let rv = '';
    let token: string | undefined;
    do {
      const page = await this.client.request<{ items: Obj[]; metadata: { resourceVersion: string; continue?: string } }>('GET', path, { query: { limit: 500, continue: token } });
      for (const d of page.items) this.observe(d);
      rv = page.metadata.resourceVersion;
      token = page.metadata.continue || undefined;
    } while (token !== undefined);
    this.loop = (async () => {
      while (!this.abort.signal.aborted) {
        try {
          for await (const e of this.client.watch<Obj>(path, { resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: 600 }, this.abort.signal)) {
            if (e.object?.metadata?.resourceVersion) rv = e.object.metadata.resourceVersion;
            if (e.type === 'ADDED' || e.type === 'MODIFIED') this.observe(e.object);
          }
        } catch (error) {
          if (this.abort.signal.aborted) return;
          log(`watch of ${this.ns} ended (${(error as Error).message.split('\n')[0]}); watching again`);
          await sleep(500);
        }
      }
    })();
  }

  private observe(d: Obj): void {
    const now = Date.now();
    const entry = this.seen.get(d.metadata.name) ?? {};
    if (entry.labelledAt === undefined && d.metadata.labels?.[PROFILE_LABEL] !== undefined) entry.labelledAt = now;
    const hash = d.spec?.template?.metadata?.annotations?.[HASH] as string | undefined;
    if (hash !== undefined && hash !== entry.hash) {
      entry.hash = hash;
      entry.hashAt = now;
    }
    this.seen.set(d.metadata.name, entry);
  }

  /** Names whose current hash differs from `previous` (any hash when undefined). */
  injected(names: readonly string[], previous?: Map<string, string | undefined>): number {
    return names.filter((n) => {
      const h = this.seen.get(n)?.hash;
      return h !== undefined && (previous === undefined || h !== previous.get(n));
    }).length;
  }

  hashes(names: readonly string[]): Map<string, string | undefined> {
    return new Map(names.map((n) => [n, this.seen.get(n)?.hash]));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }
}

/** The leader's /metrics, scraped from its Pod IP as a Prometheus in the cluster would. */
class OperatorMetrics {
  constructor(
    private readonly admin: KubeClient,
    private readonly token: string,
  ) {}

  async leaderUrl(): Promise<string> {
    const lease = await this.admin.get<{ spec?: { holderIdentity?: string } }>(`/apis/coordination.k8s.io/v1/namespaces/${OPERATOR_NAMESPACE}/leases/apiaccess-operator`);
    const pod = await this.admin.get<Obj>(`/api/v1/namespaces/${OPERATOR_NAMESPACE}/pods/${holderPod(lease?.spec?.holderIdentity) ?? ''}`);
    if (!pod?.status?.podIP) throw new Error(`no leader Pod with an IP (Lease holder ${lease?.spec?.holderIdentity})`);
    return `https://${pod.status.podIP as string}:8443/metrics`;
  }

  async text(): Promise<string> {
    const url = await this.leaderUrl();
    const got = await scrape(url, this.token);
    if (got.status !== 200) throw new Error(`GET ${url} answered ${got.status}`);
    return got.body;
  }

  async counts(): Promise<RequestCounts> {
    return requestCounts(await this.text());
  }

  async rssMB(): Promise<number | undefined> {
    const rss = gauge(await this.text(), 'process_resident_memory_bytes');
    return rss === undefined ? undefined : rss / 1e6;
  }

  /** Waits until the leader's requests (but watches and Lease renewals) stop growing for `quietMs`. */
  async settled(quietMs = 5_000): Promise<RequestCounts> {
    let last = await this.counts();
    let quietSince = Date.now();
    for (;;) {
      await sleep(1000);
      const now = await this.counts();
      if (total(difference(last, now), countsAsWork) > 0) {
        last = now;
        quietSince = Date.now();
      } else if (Date.now() - quietSince >= quietMs) return now;
    }
  }
}

async function scaleOperator(admin: KubeClient, replicas: number): Promise<void> {
  await admin.apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: OPERATOR_SA, namespace: OPERATOR_NAMESPACE }, spec: { replicas } }, FM);
  if (replicas > 0) return;
  await until('the operator Pods to be gone', async () => {
    const pods = await admin.request<{ items: Obj[] }>('GET', `/api/v1/namespaces/${OPERATOR_NAMESPACE}/pods`, { query: { labelSelector: 'app.kubernetes.io/name=apiaccess-operator' } });
    return pods.items.length === 0;
  });
}

async function createNamespace(admin: KubeClient, name: string): Promise<string> {
  await admin.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, FM);
  return name;
}

async function deleteNamespaces(admin: KubeClient, names: readonly string[]): Promise<void> {
  for (const name of names) await admin.delete(`/api/v1/namespaces/${name}`).catch(() => undefined);
  await until(`namespaces ${names.join(', ')} to be deleted`, async () => {
    for (const name of names) if ((await admin.get(`/api/v1/namespaces/${name}`)) !== undefined) return false;
    return true;
  }, PHASE_TIMEOUT_MS, 2000);
}

async function createDeployments(admin: KubeClient, ns: string, names: readonly string[], labels: Record<string, string>): Promise<void> {
  await pool(names.length, SETUP_CONCURRENCY, async (i) => {
    await admin.apply(deployment(ns, names[i]!, labels) as KubeObject & { apiVersion: string; kind: string }, FM);
  });
}

/**
 * The raw ceiling: the operator's own ServiceAccount applying exactly the fields the operator writes
 * into a ServiceAccount-mode workload (its injected marker label aside, so that the operator leaves
 * these alone), with the operator's workload concurrency and its client's default rate limit.
 */
async function rawCeiling(info: ClusterInfo, admin: KubeClient, n: number): Promise<{ serviceAccount: number; kubeconfig: number }> {
  const ns = await createNamespace(admin, `bench-raw-${n}`);
  const names = Array.from({ length: n }, (_, i) => `raw-${i}`);
  await createDeployments(admin, ns, names, {});
  const dir = mkdtempSync(join(tmpdir(), 'apiaccess-bench-'));
  const operator = clientFor(await writeOperatorKubeconfig(info, join(dir, 'operator.kubeconfig'), 3600));
  try {
    const loop = async (spec: object): Promise<number> => {
      const parsed = parseSpec(spec);
      if (!parsed.ok) throw new Error(parsed.message);
      const profile = resolveProfile({ name: 'bench', namespace: ns, spec: parsed.spec });
      const { injection } = podTemplateInjection(profile, ['app']);
      const t0 = Date.now();
      await pool(n, WORKLOAD_WORKERS, async (i) => {
        const config = workloadApplyConfig({ kind: 'Deployment', namespace: ns, name: names[i]! }, 'bench', injection) as KubeObject & { apiVersion: string; kind: string };
        delete config.metadata.labels;
        await operator.apply(config, { fieldManager: 'apiaccess-bench-raw', force: false });
      });
      return n / ((Date.now() - t0) / 1000);
    };
    const rules = [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }];
    const serviceAccount = await loop({ auth: 'ServiceAccount', permissions: { rules } });
    // The same switch the operator makes later: from the ServiceAccount injection to the Kubeconfig one.
    const kubeconfig = await loop({ auth: 'Kubeconfig', kubeconfig: { source: 'Generated' }, permissions: { rules } });
    return { serviceAccount, kubeconfig };
  } finally {
    operator.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measureSize(info: ClusterInfo, admin: KubeClient, metrics: OperatorMetrics, n: number): Promise<SizeResult> {
  const figures: Figure[] = [];
  let bindRequests: RequestCounts = {};
  const raw = await phase(`raw SSA ceiling at ${n}`, () => rawCeiling(info, admin, n));
  figures.push(figure('raw server-side apply as the operator\'s ServiceAccount', raw?.serviceAccount, 'objects/s', undefined, `${WORKLOAD_WORKERS} in flight, the fields of a ServiceAccount-mode injection`));
  figures.push(figure('raw switch of the same objects to the Kubeconfig/Generated injection', raw?.kubeconfig, 'objects/s', undefined, 'the same client, the fields the operator writes on an auth switch'));

  const ns = await createNamespace(admin, `bench-${n}`);
  await apply(admin, [profileObject(ns, 'bench', { auth: 'ServiceAccount', permissions: { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] } })]);
  await until('profile bench Ready', async () => (await condition(admin, ns, 'bench', 'Ready'))?.status === 'True');
  const names = Array.from({ length: n }, (_, i) => `w-${i}`);
  const tracker = new Tracker(admin, ns);

  await phase(`initial bind of ${n}`, async () => {
    await scaleOperator(admin, 0);
    await createDeployments(admin, ns, names, { [PROFILE_LABEL]: 'bench' });
    await tracker.start();
    const mark = await auditMark();
    await scaleOperator(admin, 2);
    await waitForOperator(admin);
    await until(`${n} Deployments injected`, async () => tracker.injected(names) === n);
    const times = names.map((name) => tracker.seen.get(name)!.hashAt!);
    const window = (Math.max(...times) - Math.min(...times)) / 1000;
    const rate = n / Math.max(window, 0.001);
    figures.push(figure('initial bind', rate, 'workloads/s', undefined, 'from the first to the last injection a watch saw'));
    if (raw !== undefined) figures.push(figure('initial bind / raw', rate / raw.serviceAccount, 'x', '>= 0.8'));
    const counts = await metrics.settled();
    bindRequests = Object.fromEntries(Object.entries(counts).filter(([k]) => !k.startsWith('WATCH')));
    const work = total(counts, countsAsWork);
    figures.push(figure('API requests per bound workload', work / n, 'requests', '<= 2', `leader's metrics: all but watches, start-up LISTs (${total(counts, (v) => v === 'LIST')}) and Lease renewals`));
    const audited = (await auditEventsSince(mark, (e) => e.user.username === OPERATOR_USER && e.stage === 'ResponseComplete')).filter(
      (e) => !['watch', 'list'].includes(e.verb) && e.objectRef?.resource !== 'leases',
    ).length;
    figures.push(figure('the same, from the API server\'s audit log', audited / n, 'requests', '<= 2', 'both replicas, the same exclusions'));
    figures.push(figure(`operator RSS with ${n} workloads bound`, await metrics.rssMB(), 'MB', '<= 150', 'leader, process_resident_memory_bytes'));
  });

  const latencyNames = Array.from({ length: LATENCY_SAMPLES }, (_, i) => `lat-${i}`);
  await phase(`label -> injected latency at ${n}`, async () => {
    await createDeployments(admin, ns, latencyNames, {});
    await sleep(3000);
    const samples: number[] = [];
    for (const name of latencyNames) {
      // Its own field manager: applied by the creator's, the label-only object would drop the rest.
      await admin.apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns, labels: { [PROFILE_LABEL]: 'bench' } } }, { fieldManager: 'apiaccess-bench-label', force: true });
      const entry = await until(`${name} injected`, async () => {
        const e = tracker.seen.get(name);
        return e?.hashAt !== undefined && e.labelledAt !== undefined ? e : undefined;
      }, 60_000, 5);
      samples.push(entry.hashAt! - entry.labelledAt!);
    }
    figures.push(figure('label -> injected, p50', percentile(samples, 50), 'ms', undefined, `${LATENCY_SAMPLES} single labels, both ends timestamped by one watch`));
    figures.push(figure('label -> injected, p99', percentile(samples, 99), 'ms', '<= 100'));
  });

  await phase(`idle at ${n}`, async () => {
    await metrics.settled(10_000);
    const before = await metrics.counts();
    await sleep(IDLE_MS);
    const idle = difference(before, await metrics.counts());
    const leases = total(idle, (_v, r) => r === 'leases');
    figures.push(figure(`writes in ${IDLE_MS / 1000} s idle`, total(idle, (v, r) => isWrite(v) && r !== 'leases'), 'requests', '== 0', `Lease renewals (${leases}) not counted`));
    figures.push(figure(`reads in ${IDLE_MS / 1000} s idle`, total(idle, (v, r) => !isWrite(v) && v !== 'WATCH' && r !== 'leases'), 'requests', '== 0', 'watches not counted'));
  });

  await phase(`auth switch at ${n}`, async () => {
    // Every workload bound so far (the latency ones too, unless that phase failed).
    const all = [...names, ...latencyNames].filter((name) => tracker.seen.get(name)?.hash !== undefined);
    const previous = tracker.hashes(all);
    const t0 = Date.now();
    await apply(admin, [profileObject(ns, 'bench', { auth: 'Kubeconfig', kubeconfig: { source: 'Generated' }, permissions: { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] } })]);
    await until(`${all.length} Deployments with the Kubeconfig config-hash`, async () => tracker.injected(all, previous) === all.length);
    const last = Math.max(...all.map((name) => tracker.seen.get(name)!.hashAt!));
    const rate = all.length / ((last - t0) / 1000);
    figures.push(figure('auth switch to Kubeconfig/Generated', rate, 'workloads/s', undefined, 'from the profile edit to the last new config-hash a watch saw'));
    if (raw !== undefined) figures.push(figure('auth switch / raw switch', rate / raw.kubeconfig, 'x', '>= 0.8'));
  });
  await tracker.stop();
  await phase(`cleanup of ${n}`, () => deleteNamespaces(admin, [ns, `bench-raw-${n}`]));
  return { workloads: n, figures, bindRequests };
}

async function sarHeavy(admin: KubeClient, metrics: OperatorMetrics): Promise<Figure[]> {
  const ns = await createNamespace(admin, 'bench-view');
  const before = await metrics.counts();
  const t0 = Date.now();
  await apply(admin, [profileObject(ns, 'viewer', { auth: 'ServiceAccount', permissions: { clusterRoles: ['view'] } })]);
  const c = await until('AccessVerified of a profile referencing view', async () => {
    const got = await condition(admin, ns, 'viewer', 'AccessVerified');
    return got?.status === 'True' ? got : undefined;
  });
  const seconds = (Date.now() - t0) / 1000;
  const reviews = total(difference(before, await metrics.counts()), (_v, r) => r === 'subjectaccessreviews');
  return [figure('profile referencing view: time to AccessVerified', seconds, 's', undefined, `${c.reason}`), figure('profile referencing view: SubjectAccessReviews', reviews, 'reviews')];
}

async function rbacChurn(admin: KubeClient, metrics: OperatorMetrics): Promise<Figure[]> {
  const ns = await createNamespace(admin, 'bench-churn');
  const role = (i: number): object => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'bench-churn', labels: { 'bench.apiaccess.dev/revision': String(i) } },
    rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }, ...(i % 2 === 1 ? [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }] : [])],
  });
  await apply(admin, [role(0), profileObject(ns, 'churn', { auth: 'ServiceAccount', permissions: { clusterRoles: ['bench-churn'] } })]);
  await until('profile churn AccessVerified', async () => (await condition(admin, ns, 'churn', 'AccessVerified'))?.status === 'True');
  const before = await metrics.settled();
  const t0 = Date.now();
  for (let i = 1; i <= CHURN_UPDATES; i++) await apply(admin, [role(i)]);
  const updated = Date.now();
  const after = await metrics.settled();
  const d = difference(before, after);
  const seconds = (Date.now() - t0 - 5_000) / 1000;
  return [
    figure(`RBAC churn: ${CHURN_UPDATES} updates of a referenced ClusterRole`, (updated - t0) / 1000, 's', undefined, 'as fast as the admin could apply them'),
    figure('RBAC churn: until the operator was quiet again', seconds, 's', undefined, 'from the first update; 5 s of quiet not counted'),
    figure('RBAC churn: operator requests per update', total(d, countsAsWork) / CHURN_UPDATES, 'requests'),
    figure('RBAC churn: SubjectAccessReviews per update', total(d, (_v, r) => r === 'subjectaccessreviews') / CHURN_UPDATES, 'reviews'),
  ];
}

async function timeRuns(program: string, args: readonly string[], env: Readonly<Record<string, string>>, runs = 5): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await runProgram(program, args, { env, timeoutMs: 60_000 });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(times);
}

async function cliStartup(info: ClusterInfo): Promise<Figure[]> {
  const kubectl = await serverKubectl();
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', KUBECONFIG: info.kubeconfigs.admin };
  const help = await timeRuns(process.execPath, [BIN, '--help'], env);
  const kubectlHelp = await timeRuns(kubectl, ['--help'], env);
  const doctor = await timeRuns(process.execPath, [BIN, 'doctor', '--kubeconfig', info.kubeconfigs.admin], env);
  const version = await timeRuns(kubectl, ['version', '--kubeconfig', info.kubeconfigs.admin], env);
  return [
    figure('`apiaccess --help`', help, 'ms', undefined, 'median of 5'),
    figure('`apiaccess --help` / `kubectl --help`', help / kubectlHelp, 'x', undefined, `kubectl ${kubectlHelp.toFixed(0)} ms`),
    figure('`apiaccess doctor`', doctor, 'ms', undefined, 'median of 5, against the local cluster'),
    figure('`apiaccess doctor` / `kubectl version`', doctor / version, 'x', undefined, `kubectl ${version.toFixed(0)} ms`),
  ];
}

async function cluster(): Promise<ClusterInfo> {
  const dir = join(repoRoot, '.local', 'bench');
  const existing = await readClusterInfo(dir);
  if (existing && isComplete(existing) && opts.keep) return existing;
  if (existing) await stopCluster(existing);
  mkdirSync(dir, { recursive: true });
  return await startControlPlane({ dir, node: true });
}

const info = await cluster();
process.env[TEST_CLUSTER_ENV] = join(info.dir, 'cluster.json');
const admin = adminClientFor(info);
const results: BenchResults = {
  date: new Date().toISOString(),
  commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim(),
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), kernel: release() },
  versions: { node: process.version, operatorNode: 'unknown', kubernetes: info.versions.kubernetes, etcd: info.versions.etcd },
  sizes: [],
  other: [],
  failures,
  durationSeconds: 0,
};
try {
  log(`cluster at ${info.server}; installing the operator`);
  await installAsAUser(info, { examples: false });
  const metrics = new OperatorMetrics(admin, await prometheusToken(admin));
  const first = await metrics.text();
  results.versions.operatorNode = /^nodejs_version_info\{version="([^"]+)"/m.exec(first)?.[1] ?? 'unknown';
  results.other.push(figure('operator RSS at 0 workloads', (gauge(first, 'process_resident_memory_bytes') ?? 0) / 1e6, 'MB', '<= 150', 'leader just started'));
  // The sizes first: the other profiles' verification would otherwise count in a fresh leader's bind.
  for (const n of sizes) results.sizes.push(await measureSize(info, admin, metrics, n));
  const sar = await phase('SAR-heavy profile', () => sarHeavy(admin, metrics));
  results.other.push(...(sar ?? []));
  const churn = await phase('RBAC churn', () => rbacChurn(admin, metrics));
  results.other.push(...(churn ?? []));
  const cli = await phase('CLI start-up', () => cliStartup(info));
  results.other.push(...(cli ?? []));
} finally {
  results.durationSeconds = (Date.now() - started) / 1000;
  mkdirSync(opts.out, { recursive: true });
  writeFileSync(join(opts.out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(opts.out, 'results.md'), markdown(results));
  console.log(markdown(results));
  admin.close();
  if (!opts.keep) await stopCluster(info);
}
process.exit(failures.length === 0 ? 0 : 1);
