// The measurements of `npm run bench`, one function per phase. Each gathers with the cluster, hands
// the numbers to report.ts, and records figures; the definitions written here are the ones
// docs/benchmarks/README.md explains.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeClient, KubeObject } from '../../operator/kube/client.ts';
import { DEFAULT_BURST, DEFAULT_QPS } from '../../operator/kube/client.ts';
import { WORKLOAD_WORKERS } from '../../operator/manager.ts';
import { runProgram, serverKubectl } from '../clients.ts';
import type { ClusterInfo } from '../cluster/cluster-info.ts';
import { clientFor, OPERATOR_NAMESPACE, OPERATOR_SA, writeOperatorKubeconfig } from '../install.ts';
import { auditedRequests, auditSize } from './audit-count.ts';
import {
  churnRole,
  CHURN_ROLE,
  deployment,
  KUBECONFIG_SPEC,
  labelOnly,
  names,
  namespace,
  profile,
  profilePath,
  PROFILE,
  rawApplyConfig,
  RUN_LABEL,
  SERVICE_ACCOUNT_SPEC,
} from './objects.ts';
import { BENCH_FIELD_MANAGER, type OperatorUnderTest } from './operator.ts';
import { now, pool, until, type Log, type PhaseContext } from './phase.ts';
import { DeploymentTracker } from './tracker.ts';
import { difference, gauge, isCountedRequest, isRead, isWrite, median, only, percentile, rate, ratio, total, type RequestCounts } from './report.ts';

export const OPERATOR_USER = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SA}`;
/** Requests in flight of the admin that creates workloads (set-up, not measured). */
const SETUP_CONCURRENCY = 16;
const FM = { fieldManager: BENCH_FIELD_MANAGER, force: true };
const COUNTED = 'all requests but watches and Lease requests';

export interface BenchOptions {
  readonly latencySamples: number;
  readonly idleSeconds: number;
  readonly churnUpdates: number;
  readonly cliRuns: number;
}

/** What every phase works with. */
export interface Bench {
  readonly info: ClusterInfo;
  readonly admin: KubeClient;
  /** The admin again, with a client limit high enough not to slow the set-up down. */
  readonly setup: KubeClient;
  readonly operator: OperatorUnderTest;
  readonly run: string;
  readonly options: BenchOptions;
  readonly log: Log;
}

type Profile = KubeObject & { status?: { observedGeneration?: number; conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> } };

// ---------- set-up helpers ----------

export async function createNamespace(b: Bench, prefix: string): Promise<string> {
  const name = `${prefix}-${b.run}`;
  await b.admin.apply(namespace(name, b.run), FM);
  return name;
}

/** Deletes every namespace a bench run created (this one's or an interrupted one's) and waits until they are gone. */
export async function deleteBenchNamespaces(b: Bench, ctx: Pick<PhaseContext, 'signal'>, run?: string): Promise<number> {
  const selector = run === undefined ? RUN_LABEL : `${RUN_LABEL}=${run}`;
  const list = async (): Promise<string[]> => (await b.admin.request<{ items: KubeObject[] }>('GET', '/api/v1/namespaces', { query: { labelSelector: selector } })).items.map((n) => n.metadata.name);
  const found = await list();
  for (const name of found) await b.admin.delete(`/api/v1/namespaces/${name}`);
  if (found.length > 0) b.log(`Deleting namespace(s) ${found.join(', ')}`);
  let left: string[] = found;
  await until('the bench namespaces to be deleted', async () => (left = await list()).length === 0, ctx, { intervalMs: 2000, progress: () => `${left.join(', ')} still there` });
  return found.length;
}

async function createDeployments(b: Bench, ns: string, list: readonly string[], ctx: PhaseContext, profileName?: string): Promise<void> {
  const started = now();
  await pool(list.length, SETUP_CONCURRENCY, ctx.signal, async (i) => {
    await b.setup.apply(deployment(ns, list[i]!, profileName), FM);
  });
  b.log(`Created ${list.length} Deployments in ${ns} in ${((now() - started) / 1000).toFixed(1)} s`);
}

async function controllerCaughtUp(tracker: DeploymentTracker, list: readonly string[], ctx: PhaseContext): Promise<void> {
  await until(`the deployment controller to observe ${list.length} Deployments in ${tracker.namespace}`, () => tracker.controllerCaughtUp(list), ctx, {
    intervalMs: 500,
    progress: () => `${tracker.count(list, (s) => s.generation !== undefined && (s.observedGeneration ?? 0) >= s.generation)} of ${list.length} observed`,
  });
}

/** When the deployment controller had observed the last of the injected template changes (every one injected). */
async function controllerReacted(tracker: DeploymentTracker, list: readonly string[], ctx: PhaseContext): Promise<number> {
  const reacted = (): number => tracker.count(list, (s) => s.controllerAt !== undefined);
  await until(`the deployment controller to observe the injection of ${list.length} Deployments`, () => reacted() === list.length, ctx, { intervalMs: 200, progress: () => `${reacted()} of ${list.length} observed` });
  return Math.max(...list.map((name) => tracker.get(name)!.controllerAt!));
}

async function condition(b: Bench, ns: string, name: string, type: string): Promise<{ status: string; reason?: string; message?: string } | undefined> {
  const p = await b.admin.get<Profile>(profilePath(ns, name));
  if (p === undefined || p.status?.observedGeneration !== p.metadata.generation) return undefined;
  return p.status?.conditions?.find((c) => c.type === type);
}

/** Applies a profile; right after install the author-stamping policy can answer 503 for a few seconds. */
async function applyProfile(b: Bench, obj: ReturnType<typeof profile>, ctx: PhaseContext): Promise<void> {
  await until(`profile ${obj.metadata.namespace}/${obj.metadata.name} to be accepted`, async () => {
    try {
      await b.admin.apply(obj, FM);
      return true;
    } catch (error) {
      if ((error as { status?: number }).status === 503) return false;
      throw error;
    }
  }, ctx, { intervalMs: 500 });
}

async function profileServiceAccount(b: Bench, ns: string, ctx: PhaseContext): Promise<void> {
  await until(`ServiceAccount ${ns}/${PROFILE} (created by the operator for the profile)`, async () => (await b.admin.get(`/api/v1/namespaces/${ns}/serviceaccounts/${PROFILE}`)) !== undefined, ctx, { intervalMs: 250 });
}

function mb(bytes: number | undefined): number | null {
  return bytes === undefined ? null : bytes / 2 ** 20;
}

// ---------- N-independent: RSS at 0 ----------

/** A fresh leader with no workload anywhere: its resident memory once it is quiet. */
export async function idleMemory(b: Bench, ctx: PhaseContext): Promise<{ operatorNode: string }> {
  await b.operator.scale(0, ctx);
  await b.operator.scale(1, ctx);
  await b.operator.quiet(ctx);
  const text = await b.operator.metricsText();
  ctx.record({ name: 'operator RSS at 0 workloads', value: mb(gauge(text, 'process_resident_memory_bytes')), unit: 'MiB', goal: { op: '<=', target: 150 }, note: 'process_resident_memory_bytes of a fresh leader, once quiet' });
  return { operatorNode: /^nodejs_version_info\{version="([^"]+)"/m.exec(text)?.[1] ?? 'unknown' };
}

// ---------- per size ----------

export interface SizeRun {
  readonly n: number;
  readonly ns: string;
  readonly rawNs: string;
  readonly workloads: readonly string[];
  readonly latency: readonly string[];
  tracker?: DeploymentTracker;
  raw?: number;
  /** The raw loop writing the Kubeconfig/Generated injection over the ServiceAccount one: what an auth switch writes. */
  rawSwitch?: number;
  bindRequests?: { metrics: RequestCounts; audit: RequestCounts };
}

export async function prepareSize(b: Bench, n: number, ctx: PhaseContext): Promise<SizeRun> {
  const size: SizeRun = { n, ns: await createNamespace(b, `bench-${n}`), rawNs: await createNamespace(b, `bench-raw-${n}`), workloads: names('w', n), latency: names('lat', b.options.latencySamples) };
  if ((await b.operator.replicas()) !== 1) await b.operator.scale(1, ctx);
  await applyProfile(b, profile(size.ns, PROFILE, SERVICE_ACCOUNT_SPEC), ctx);
  await profileServiceAccount(b, size.ns, ctx);
  return size;
}

/**
 * The raw ceiling: N server-side applies of exactly the fields the operator injects (ServiceAccount
 * mode), sent as the operator's own ServiceAccount (a TokenRequest token: RBAC applies, as to the
 * operator) with the operator's KubeClient at its default limit and WORKLOAD_WORKERS in flight.
 * The operator is scaled to 0 meanwhile, and the deployment controller has caught up with the
 * creations first; it then reacts to these template changes as it does to the operator's.
 */
export async function rawCeiling(b: Bench, size: SizeRun, ctx: PhaseContext): Promise<void> {
  await b.operator.scale(0, ctx);
  const list = names('raw', size.n);
  const tracker = new DeploymentTracker(b.admin, size.rawNs, b.log);
  await tracker.start();
  const dir = await mkdtemp(join(tmpdir(), 'apiaccess-bench-'));
  try {
    await createDeployments(b, size.rawNs, list, ctx);
    await controllerCaughtUp(tracker, list, ctx);
    const client = clientFor(await writeOperatorKubeconfig(b.info, join(dir, 'operator.kubeconfig'), 3600));
    try {
      const started = now();
      await pool(size.n, WORKLOAD_WORKERS, ctx.signal, async (i) => {
        await client.apply(rawApplyConfig(size.rawNs, list[i]!), { fieldManager: 'apiaccess-bench-raw', force: false });
      });
      size.raw = rate(size.n, now() - started) ?? undefined;
      ctx.record({
        name: 'raw server-side apply ceiling',
        value: size.raw ?? null,
        unit: 'objects/s',
        note: `${size.n} applies of the ServiceAccount-mode injection as the operator's ServiceAccount, ${WORKLOAD_WORKERS} in flight, KubeClient ${DEFAULT_QPS} qps/burst ${DEFAULT_BURST}`,
      });
      const caughtUp = await controllerReacted(tracker, list, ctx);
      ctx.record({ name: '  the same until the deployment controller caught up', value: rate(size.n, caughtUp - started), unit: 'objects/s', note: 'to the last template change the controller had observed (status.observedGeneration, seen by a watch)' });
      // The same objects switched to the Kubeconfig/Generated injection: the fields the operator writes on an auth switch.
      const switchStarted = now();
      await pool(size.n, WORKLOAD_WORKERS, ctx.signal, async (i) => {
        await client.apply(rawApplyConfig(size.rawNs, list[i]!, KUBECONFIG_SPEC), { fieldManager: 'apiaccess-bench-raw', force: false });
      });
      size.rawSwitch = rate(size.n, now() - switchStarted) ?? undefined;
      ctx.record({ name: 'raw switch to the Kubeconfig/Generated injection', value: size.rawSwitch ?? null, unit: 'objects/s', note: 'the same loop over the same objects, writing the Kubeconfig-mode fields' });
    } finally {
      client.close();
    }
  } finally {
    await tracker.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The initial bind: N labelled Deployments created while the operator is scaled to 0 (and the
 * deployment controller caught up), then the operator scaled to 1. Window: from the first to the
 * last Deployment a watch saw carrying the injection's config-hash. Requests: the new process's
 * whole apiaccess_kube_requests_total once it is quiet (it started at 0), cross-checked against the
 * audit log's requests of the operator's ServiceAccount from before the scale-up.
 */
export async function initialBind(b: Bench, size: SizeRun, ctx: PhaseContext): Promise<void> {
  await b.operator.scale(0, ctx);
  const tracker = new DeploymentTracker(b.admin, size.ns, b.log);
  size.tracker = tracker;
  await tracker.start();
  await createDeployments(b, size.ns, size.workloads, ctx, PROFILE);
  await controllerCaughtUp(tracker, size.workloads, ctx);
  const mark = await auditSize(b.info.auditLog);
  const scaledAt = now();
  await b.operator.scale(1, ctx);
  const readyAt = now();
  const injected = (): number => tracker.count(size.workloads, (s) => s.hashAt !== undefined);
  await until(`${size.n} Deployments to carry the injection`, () => injected() === size.n, ctx, { intervalMs: 100, progress: () => `${injected()} of ${size.n} injected` });
  const times = size.workloads.map((name) => tracker.get(name)!.hashAt!);
  const first = Math.min(...times);
  const last = Math.max(...times);
  const bind = rate(size.n, last - first);
  ctx.record({ name: 'initial bind', value: bind, unit: 'workloads/s', note: `N / (last - first injection seen by a watch); scale-up to leader ready ${((readyAt - scaledAt) / 1000).toFixed(1)} s, to first injection ${((first - scaledAt) / 1000).toFixed(1)} s` });
  ctx.record({ name: 'initial bind / raw', value: ratio(bind, size.raw), unit: 'x', goal: { op: '>=', target: 0.8 } });
  const caughtUp = await controllerReacted(tracker, size.workloads, ctx);
  ctx.record({ name: '  bind until the deployment controller caught up', value: rate(size.n, caughtUp - first), unit: 'workloads/s', note: 'from the first injection to the last one the controller had observed' });

  const { counts } = await b.operator.quiet(ctx);
  const audit = await auditedRequests(b.info.auditLog, mark, OPERATOR_USER);
  size.bindRequests = { metrics: counts, audit };
  ctx.record({ name: 'API requests per bound workload', value: total(counts, isCountedRequest) / size.n, unit: 'requests', goal: { op: '<=', target: 2 }, note: `operator metrics of the new process until quiet: ${COUNTED}` });
  ctx.record({ name: '  of which writes', value: total(counts, isWrite) / size.n, unit: 'requests', note: 'POST, PUT, PATCH, DELETE' });
  ctx.record({ name: '  of which reads', value: total(counts, isRead) / size.n, unit: 'requests', note: 'GET, LIST' });
  ctx.record({ name: 'the same from the audit log', value: total(audit, isCountedRequest) / size.n, unit: 'requests', goal: { op: '<=', target: 2 }, note: `user ${OPERATOR_USER} from before the scale-up until quiet, the same exclusions; the local audit policy does not log get/update/patch of Events` });
  const text = await b.operator.metricsText();
  ctx.record({ name: `operator RSS with ${size.n} bound`, value: mb(gauge(text, 'process_resident_memory_bytes')), unit: 'MiB', goal: { op: '<=', target: 150 }, note: 'process_resident_memory_bytes once quiet' });
  const health = await b.operator.health();
  if (health.restarts > 0) throw new Error(`the operator container restarted ${health.restarts} time(s) during the bind (last: ${health.lastTermination ?? 'unknown reason'})`);
}

/** 50 single Deployments, created unlabelled, labelled one at a time: label -> injection, both seen by the watch. */
export async function labelLatency(b: Bench, size: SizeRun, ctx: PhaseContext): Promise<void> {
  const tracker = await ensureTracker(b, size);
  if ((await b.operator.replicas()) !== 1) await b.operator.scale(1, ctx);
  await createDeployments(b, size.ns, size.latency, ctx);
  await controllerCaughtUp(tracker, size.latency, ctx);
  await b.operator.quiet(ctx, 3000);
  const samples: number[] = [];
  const fromWrite: number[] = [];
  for (const name of size.latency) {
    await b.admin.apply(labelOnly(size.ns, name, PROFILE), { fieldManager: 'apiaccess-bench-label', force: true });
    const written = now();
    const seen = await until(`${size.ns}/${name} to carry the injection after its label`, () => {
      const s = tracker.get(name);
      return s?.labelledAt !== undefined && s.hashAt !== undefined ? s : undefined;
    }, ctx, { intervalMs: 5, timeoutMs: 60_000 });
    samples.push(seen.hashAt! - seen.labelledAt!);
    fromWrite.push(seen.hashAt! - written);
    // Let the deployment controller's reaction (new ReplicaSet, status) pass before the next one.
    await sleep(200);
  }
  const note = `${samples.length} Deployments labelled one at a time; both ends are events of one watch`;
  ctx.record({ name: 'label -> injected p50', value: percentile(samples, 50) ?? null, unit: 'ms', note });
  ctx.record({ name: 'label -> injected p99', value: percentile(samples, 99) ?? null, unit: 'ms', goal: { op: '<=', target: 100 }, note: `min ${Math.min(...samples).toFixed(0)} ms, max ${Math.max(...samples).toFixed(0)} ms` });
  // Two events the API server flushes together arrive together: the cross-check starts at the label write's response instead.
  ctx.record({ name: 'label write answered -> injected p99', value: percentile(fromWrite, 99) ?? null, unit: 'ms', note: `p50 ${percentile(fromWrite, 50)!.toFixed(0)} ms; from the bench's label apply returning to the injection's watch event` });
}

/** After convergence: the operator's requests over idleSeconds, writes and reads apart; Lease requests and watches listed, not counted. */
export async function idle(b: Bench, ctx: PhaseContext): Promise<void> {
  const { counts: before } = await b.operator.quiet(ctx, 10_000);
  await sleep(b.options.idleSeconds * 1000, undefined, { signal: ctx.signal });
  const d = difference(before, await b.operator.counts());
  const leases = total(d, (k) => k.endsWith(' leases'));
  const watches = total(d, (k) => k.startsWith('WATCH '));
  const detail = (counts: RequestCounts): string => Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  ctx.record({ name: `idle ${b.options.idleSeconds} s: writes`, value: total(d, isWrite), unit: 'requests', goal: { op: '==', target: 0 }, note: `${detail(only(d, isWrite))}; not counted: ${leases} Lease requests (leader election), ${watches} watch starts` });
  ctx.record({ name: `idle ${b.options.idleSeconds} s: reads`, value: total(d, isRead), unit: 'requests', goal: { op: '==', target: 0 }, note: detail(only(d, isRead)) });
}

/**
 * The profile's auth edited from ServiceAccount to Kubeconfig (source Generated): from the edit to
 * the last bound Deployment (the N and the latency ones) a watch saw with a new config-hash.
 */
export async function authSwitch(b: Bench, size: SizeRun, ctx: PhaseContext): Promise<void> {
  const tracker = await ensureTracker(b, size);
  if ((await b.operator.replicas()) !== 1) await b.operator.scale(1, ctx);
  const all = [...size.workloads, ...size.latency].filter((name) => tracker.get(name)?.hash !== undefined);
  if (all.length === 0) throw new Error('no bound Deployment to switch (the bind failed)');
  const previous = tracker.hashes(all);
  const switched = (): number => tracker.changedSince(previous);
  const started = now();
  await applyProfile(b, profile(size.ns, PROFILE, KUBECONFIG_SPEC), ctx);
  await until(`${all.length} Deployments to carry the Kubeconfig config-hash`, () => switched() === all.length, ctx, { intervalMs: 100, progress: () => `${switched()} of ${all.length} switched` });
  const times = all.map((name) => tracker.get(name)!.hashAt!);
  const value = rate(all.length, Math.max(...times) - started);
  ctx.record({ name: 'auth switch ServiceAccount -> Kubeconfig', value, unit: 'workloads/s', note: `${all.length} workloads / (last new config-hash seen by the watch - profile edit); first after ${((Math.min(...times) - started) / 1000).toFixed(1)} s` });
  ctx.record({ name: 'auth switch / raw switch', value: ratio(value, size.rawSwitch), unit: 'x', goal: { op: '>=', target: 0.8 } });
  const text = await b.operator.metricsText();
  ctx.record({ name: 'operator RSS after the switch', value: mb(gauge(text, 'process_resident_memory_bytes')), unit: 'MiB', note: 'process_resident_memory_bytes' });
}

export async function cleanUpSize(b: Bench, size: SizeRun, ctx: PhaseContext): Promise<void> {
  await size.tracker?.stop();
  size.tracker = undefined;
  for (const ns of [size.ns, size.rawNs]) await b.admin.delete(`/api/v1/namespaces/${ns}`);
  await until(`namespaces ${size.ns} and ${size.rawNs} to be deleted`, async () => {
    for (const ns of [size.ns, size.rawNs]) if ((await b.admin.get(`/api/v1/namespaces/${ns}`)) !== undefined) return false;
    return true;
  }, ctx, { intervalMs: 2000 });
}

async function ensureTracker(b: Bench, size: SizeRun): Promise<DeploymentTracker> {
  if (size.tracker !== undefined) return size.tracker;
  const tracker = new DeploymentTracker(b.admin, size.ns, b.log);
  await tracker.start();
  size.tracker = tracker;
  return tracker;
}

// ---------- N-independent: SAR-heavy profile, RBAC churn, CLI ----------

/** A profile granting ClusterRole `view`: AccessVerified asks the API server one SubjectAccessReview per rule of view. */
export async function sarHeavy(b: Bench, ctx: PhaseContext): Promise<void> {
  const ns = await createNamespace(b, 'bench-view');
  const { counts: before } = await b.operator.quiet(ctx);
  const started = now();
  await applyProfile(b, profile(ns, 'viewer', { auth: 'ServiceAccount', permissions: { clusterRoles: ['view'] } }), ctx);
  const verified = await until('AccessVerified on a profile referencing ClusterRole view', async () => await condition(b, ns, 'viewer', 'AccessVerified'), ctx, { intervalMs: 100 });
  const seconds = (now() - started) / 1000;
  const { counts: after } = await b.operator.quiet(ctx);
  const d = difference(before, after);
  ctx.record({ name: 'view profile: time to AccessVerified', value: seconds, unit: 's', note: `AccessVerified=${verified.status} (${verified.reason ?? ''}); polled every 100 ms` });
  ctx.record({ name: 'view profile: SubjectAccessReviews', value: total(d, (k) => k.endsWith(' subjectaccessreviews')), unit: 'reviews', note: `all operator requests until quiet: ${total(d, isCountedRequest)}` });
}

/** A ClusterRole a profile references, updated `churnUpdates` times back to back: the operator's reaction. */
export async function rbacChurn(b: Bench, ctx: PhaseContext): Promise<void> {
  const ns = await createNamespace(b, 'bench-churn');
  const updates = b.options.churnUpdates;
  await b.admin.apply(churnRole(0), FM);
  await applyProfile(b, profile(ns, 'churn', { auth: 'ServiceAccount', permissions: { clusterRoles: [CHURN_ROLE] } }), ctx);
  await until('AccessVerified on the churn profile', async () => await condition(b, ns, 'churn', 'AccessVerified'), ctx, { intervalMs: 250 });
  const { counts: before } = await b.operator.quiet(ctx);
  const started = now();
  for (let i = 1; i <= updates; i++) await b.admin.apply(churnRole(i), FM);
  const applied = now();
  const { counts: after, lastActivityAt } = await b.operator.quiet(ctx);
  const d = difference(before, after);
  const final = await condition(b, ns, 'churn', 'AccessVerified');
  ctx.record({ name: `RBAC churn: ${updates} ClusterRole updates`, value: (applied - started) / 1000, unit: 's', note: 'applied back to back by the admin' });
  ctx.record({ name: 'RBAC churn: until the operator was quiet', value: (lastActivityAt - started) / 1000, unit: 's', note: `from the first update to the operator's last counted request (scraped every second); AccessVerified then ${final?.status ?? 'unknown'}` });
  ctx.record({ name: 'RBAC churn: operator requests per update', value: total(d, isCountedRequest) / updates, unit: 'requests', note: Object.entries(only(d, isCountedRequest)).map(([k, v]) => `${k} ${v}`).join(', ') || 'none' });
  ctx.record({ name: 'RBAC churn: SubjectAccessReviews per update', value: total(d, (k) => k.endsWith(' subjectaccessreviews')) / updates, unit: 'reviews' });
  await b.admin.delete(`/apis/rbac.authorization.k8s.io/v1/clusterroles/${CHURN_ROLE}`);
}

async function medianMs(program: string, args: readonly string[], env: Readonly<Record<string, string>>, runs: number): Promise<{ ms: number; code: number }> {
  const times: number[] = [];
  let code = 0;
  for (let i = 0; i < runs; i++) {
    const started = now();
    const result = await runProgram(program, args, { env, timeoutMs: 60_000 });
    times.push(now() - started);
    code = result.code;
  }
  return { ms: median(times)!, code };
}

/** Wall time of the CLI against kubectl's, medians of `cliRuns` runs each, the same environment. */
export async function cliStartup(b: Bench, repoRoot: string, ctx: PhaseContext): Promise<void> {
  const kubectl = await serverKubectl();
  const kubeconfig = b.info.kubeconfigs.admin;
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', KUBECONFIG: kubeconfig };
  const runs = b.options.cliRuns;
  const bin = join(repoRoot, 'operator', 'bin', 'apiaccess.js');
  const help = await medianMs(process.execPath, [bin, '--help'], env, runs);
  const kubectlHelp = await medianMs(kubectl, ['--help'], env, runs);
  const npx = await medianMs('npx', ['--no-install', 'apiaccess', '--help'], { ...env, HOME: process.env.HOME ?? '/root', npm_config_update_notifier: 'false' }, runs);
  const doctor = await medianMs(process.execPath, [bin, 'doctor', '--kubeconfig', kubeconfig], env, runs);
  const version = await medianMs(kubectl, ['version', '--kubeconfig', kubeconfig], env, runs);
  if (ctx.signal.aborted) return;
  const of = `median of ${runs}`;
  ctx.record({ name: 'apiaccess --help', value: help.ms, unit: 'ms', note: `node operator/bin/apiaccess.js (what the installed bin runs), ${of}` });
  ctx.record({ name: 'apiaccess --help / kubectl --help', value: ratio(help.ms, kubectlHelp.ms), unit: 'x', note: `kubectl --help ${kubectlHelp.ms.toFixed(0)} ms` });
  ctx.record({ name: 'npx apiaccess --help', value: npx.ms, unit: 'ms', note: `npm's own start-up included, ${of}; exit ${npx.code}` });
  ctx.record({ name: 'apiaccess doctor', value: doctor.ms, unit: 'ms', note: `against the local cluster as admin, ${of}; exit ${doctor.code}` });
  ctx.record({ name: 'apiaccess doctor / kubectl version', value: ratio(doctor.ms, version.ms), unit: 'x', note: `kubectl version ${version.ms.toFixed(0)} ms (exit ${version.code})` });
}

