// The operator process under faults a production cluster has: its API server crashing, its leader
// dying, itself restarting, kustomize-style inherited labels, a user ConfigMap edited under it, and a
// write refused once. On a control plane of its own with no node (Pods stay Pending; the
// kube-controller-manager still creates ReplicaSets and Pods), each operator a host process running
// as its own ServiceAccount with only the synthesized ClusterRole. Each test uses its own namespace
// and its own operator process(es), so a failing one leaves the others their own state.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeClient, KubeObject } from '../operator/kube/client.ts';
import { auditEventsSince, auditMark, type AuditEvent } from './audit.ts';
import { killApiserver, startApiserverAgain } from './cluster/apiserver-restart.ts';
import { kubeconfigYaml } from './cluster/kubeconfig.ts';
import type { ClusterInfo } from './cluster/cluster-info.ts';
import { applyYaml as applyOnce, createNamespace, stopPrivateControlPlane, usePrivateControlPlane, waitFor } from './harness.ts';
import { OPERATOR_NAMESPACE, OPERATOR_SA } from './install.ts';
import { adminClient, startOperator, type OperatorProcess, type StartOptions } from './operator-process.ts';

const PROFILE = 'apiaccess.dev/profile';
const HASH = 'apiaccess.dev/config-hash';
const DIGEST = 'apiaccess.dev/kubeconfig-digest';
const OPERATOR_USER = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SA}`;
const LEASE = `/apis/coordination.k8s.io/v1/namespaces/${OPERATOR_NAMESPACE}/leases/apiaccess-operator`;
const readerRules = [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }];
/** Generous on a loaded 2-core machine; never a duration the product promises. */
const WITHIN_MS = 90_000;

// Tests navigate deep into objects the API server returns; `any` keeps that readable.
type Obj = KubeObject & { spec?: any; status?: any; data?: Record<string, string> };
type Condition = { type: string; status: string; reason: string; message: string };
type Event = KubeObject & { reason: string; message: string; source?: { component?: string }; involvedObject: { kind: string; name: string } };

let info: ClusterInfo;
let admin: KubeClient;
const operators: OperatorProcess[] = [];

/** Leader-electing replicas share one Lease: a test that failed half-way must not keep it. */
async function stopAll(): Promise<void> {
  for (const op of operators) if (op.running()) await op.stop();
}

async function operatorIn(namespace: string, args: readonly string[] = [], options: StartOptions = {}): Promise<OperatorProcess> {
  const op = await startOperator(namespace, args, options);
  operators.push(op);
  return op;
}

/**
 * Server-side apply that waits out 503s: right after the CRD is installed, and again after the API
 * server restarted, the author-stamping MutatingAdmissionPolicy answers "Resource kind ... not found"
 * until it has the CRD's schema, as kubectl users see and retry.
 */
async function applyYaml(objects: readonly object[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await applyOnce(objects);
      return;
    } catch (error) {
      if ((error as { status?: number }).status !== 503 || Date.now() > deadline) throw error;
      await sleep(500);
    }
  }
}

const profilePath = (ns: string, name: string): string => `/apis/apiaccess.dev/v1alpha1/namespaces/${ns}/apiaccessprofiles/${name}`;
const deploymentPath = (ns: string, name: string): string => `/apis/apps/v1/namespaces/${ns}/deployments/${name}`;

function profile(ns: string, name: string, spec: object): object {
  return { apiVersion: 'apiaccess.dev/v1alpha1', kind: 'ApiAccessProfile', metadata: { name, namespace: ns }, spec };
}

interface DeploymentOptions {
  readonly replicas?: number;
  /** Extra pod-template labels (kustomize commonLabels put the profile label there too). */
  readonly podLabels?: Record<string, string>;
}

function deployment(ns: string, name: string, labels: Record<string, string>, options: DeploymentOptions = {}): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels },
    spec: {
      replicas: options.replicas ?? 0,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, ...options.podLabels } },
        spec: { containers: [{ name: 'app', image: 'example/app:1' }] },
      },
    },
  };
}

function onDeleteStatefulSet(ns: string, name: string, labels: Record<string, string>): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace: ns, labels },
    spec: {
      replicas: 0,
      serviceName: name,
      updateStrategy: { type: 'OnDelete' },
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'example/app:1' }] } },
    },
  };
}

function condition(p: Obj | undefined, type: string): Condition | undefined {
  return (p?.status?.conditions as Condition[] | undefined)?.find((c) => c.type === type);
}

/** What a user sees with `kubectl get aap -o yaml`, short: for failure messages. */
function summary(p: Obj | undefined): string {
  if (p === undefined) return 'the profile does not exist';
  const conditions = ((p.status?.conditions ?? []) as Condition[]).map((c) => `${c.type}=${c.status} (${c.reason}: ${c.message})`).join('; ');
  return `generation ${p.metadata.generation}, observedGeneration ${p.status?.observedGeneration}, workloads ${JSON.stringify(p.status?.workloads)}, ${conditions}`;
}

/**
 * Waits until the profile's status is for its current generation and `check` accepts it. On timeout
 * the error shows the last status seen (the probe throws it as "not yet").
 */
async function profileWhere(ns: string, name: string, what: string, check: (p: Obj) => boolean, timeoutMs = WITHIN_MS): Promise<Obj> {
  return waitFor(
    async () => {
      const p = await admin.get<Obj>(profilePath(ns, name));
      if (p !== undefined && p.status?.observedGeneration === p.metadata.generation && check(p)) return p;
      throw new Error(`last seen: ${summary(p)}`);
    },
    { timeoutMs, intervalMs: 500, what: `${ns}/${name}: ${what}` },
  );
}

async function conditionIs(ns: string, name: string, type: string, status: string, reason?: string, timeoutMs = WITHIN_MS): Promise<Obj> {
  return profileWhere(ns, name, `${type}=${status}${reason ? ` (${reason})` : ''}`, (p) => {
    const c = condition(p, type);
    return c?.status === status && (reason === undefined || c.reason === reason);
  }, timeoutMs);
}

/** The Deployment once its pod template carries a config hash other than `previous` (and its ServiceAccount). */
async function injected(ns: string, name: string, serviceAccount: string, previous?: string): Promise<Obj> {
  return waitFor(
    async () => {
      const d = await admin.get<Obj>(deploymentPath(ns, name));
      const hash = d?.spec.template.metadata?.annotations?.[HASH];
      if (hash !== undefined && hash !== previous && d?.spec.template.spec.serviceAccountName === serviceAccount) return d;
      throw new Error(`last seen: config-hash ${hash}, serviceAccountName ${d?.spec.template.spec.serviceAccountName}`);
    },
    { timeoutMs: WITHIN_MS, intervalMs: 500, what: `Deployment ${ns}/${name} to be injected for ${serviceAccount}${previous ? ` with a config-hash other than ${previous}` : ''}` },
  );
}

async function operatorEvents(ns: string): Promise<Event[]> {
  const list = await admin.request<{ items: Event[] }>('GET', `/api/v1/namespaces/${ns}/events`);
  return list.items.filter((e) => e.source?.component === 'apiaccess-operator');
}

function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const match = new RegExp(`^${name}(?:\\{([^}]*)\\})? ([0-9.e+-]+)$`).exec(line);
    if (match === null) continue;
    const have = match[1] ?? '';
    if (Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) total += Number(match[2]);
  }
  return total;
}

async function leads(op: OperatorProcess): Promise<boolean> {
  return metricValue(await op.metrics(), 'apiaccess_leader') === 1;
}

async function leaseHolder(): Promise<string | undefined> {
  return (await admin.get<Obj>(LEASE))?.spec?.holderIdentity ?? undefined;
}

/** Writes a user would see in the audit log: anything but Lease renewals and the reviews it asks for. */
function operatorWrite(e: AuditEvent): boolean {
  const reviews = new Set(['leases', 'tokenreviews', 'subjectaccessreviews', 'selfsubjectaccessreviews', 'localsubjectaccessreviews']);
  return e.user.username === OPERATOR_USER && ['create', 'update', 'patch', 'delete', 'deletecollection'].includes(e.verb) && !reviews.has(e.objectRef?.resource ?? '');
}

function describeWrite(e: AuditEvent): string {
  const r = e.objectRef ?? {};
  return `${e.verb} ${r.resource ?? '?'}${r.subresource ? `/${r.subresource}` : ''} ${r.namespace ?? ''}/${r.name ?? ''} -> ${e.responseStatus?.code ?? '?'}`;
}

describe('the operator process under faults', { concurrency: false }, () => {
  before(async () => {
    info = await usePrivateControlPlane();
    admin = adminClient();
  });
  after(async () => {
    await stopAll();
    admin?.close();
    await stopPrivateControlPlane();
  });

  it('a crash of kube-apiserver loses nothing, and changes made after it came back are reconciled by the same operator process', async () => {
    const ns = await createNamespace('apicrash');
    const op = await operatorIn(ns);
    await applyYaml([profile(ns, 'svc', { auth: 'ServiceAccount', permissions: { rules: readerRules } })]);
    await applyYaml(['one', 'two', 'three'].map((n) => deployment(ns, n, { [PROFILE]: 'svc' }, { replicas: n === 'one' ? 1 : 0 })));
    const hashes = new Map<string, string>();
    for (const n of ['one', 'two', 'three']) hashes.set(n, (await injected(ns, n, 'svc')).spec.template.metadata.annotations[HASH]);
    await profileWhere(ns, 'svc', 'Ready=True with 3 bound', (p) => condition(p, 'Ready')?.status === 'True' && p.status.workloads?.bound === 3);

    const killed = await killApiserver(info);
    await sleep(15_000);
    assert.ok(op.running(), 'the operator process survived 15 s without its API server');
    const health = await fetch(`${op.healthUrl}/healthz`);
    assert.equal(health.status, 200, 'the operator answers /healthz while the API server is down');
    info = await startApiserverAgain(info, killed);

    // Nothing was lost: the injections and the status are as they were.
    for (const n of ['one', 'two', 'three']) {
      const d = await admin.get<Obj>(deploymentPath(ns, n));
      assert.equal(d?.spec.template.metadata.annotations?.[HASH], hashes.get(n), `Deployment ${n} kept its injection`);
    }
    const kept = await admin.get<Obj>(profilePath(ns, 'svc'));
    assert.equal(condition(kept, 'Ready')?.status, 'True', `the profile stayed Ready: ${summary(kept)}`);

    const widened = [...readerRules, { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }];
    await applyYaml([profile(ns, 'svc', { auth: 'ServiceAccount', permissions: { rules: widened } }), deployment(ns, 'four', { [PROFILE]: 'svc' }, { replicas: 1 })]);
    await injected(ns, 'four', 'svc');
    await waitFor(
      async () => {
        const role = await admin.get<{ rules?: unknown[] }>(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles/apiaccess:svc`);
        if (role?.rules?.length === 2) return role;
        throw new Error(`last seen: ${JSON.stringify(role?.rules)}`);
      },
      { timeoutMs: WITHIN_MS, what: 'Role apiaccess:svc to carry the rule added after the restart' },
    );
    const p = await profileWhere(ns, 'svc', 'Ready=True with 4 bound', (x) => condition(x, 'Ready')?.status === 'True' && x.status.workloads?.bound === 4);
    assert.deepEqual(p.status.workloads, { bound: 4, pending: 0, unsupported: 0, conflicted: 0, containerNotFound: 0, unreadable: 0, failed: 0 });
    assert.ok(op.running(), 'the same operator process did it (it never exited)');
    await op.stop();
  });

  it('leader failover: when the leader is killed, the standby takes the Lease and reconciles a change made after the kill', async () => {
    await stopAll();
    const ns = await createNamespace('failover');
    const first = await operatorIn(ns, ['--leader-elect'], { env: { POD_NAME: 'apiaccess-operator-a' } });
    await applyYaml([profile(ns, 'lead', { auth: 'ServiceAccount' }), deployment(ns, 'before', { [PROFILE]: 'lead' })]);
    await injected(ns, 'before', 'lead');
    const second = await operatorIn(ns, ['--leader-elect'], { env: { POD_NAME: 'apiaccess-operator-b' }, until: 'Synced caches' });
    await sleep(6_000);
    assert.ok(await leads(first), 'the first process leads');
    assert.equal(await leads(second), false, 'the second process stands by');
    const holder = await leaseHolder();

    await first.kill();
    await applyYaml([deployment(ns, 'after', { [PROFILE]: 'lead' })]);
    await waitFor(async () => await leads(second), { timeoutMs: WITHIN_MS, what: 'the standby to lead' });
    assert.notEqual(await leaseHolder(), holder, 'the Lease names the new leader');
    await injected(ns, 'after', 'lead');
    await profileWhere(ns, 'lead', '2 bound', (p) => p.status.workloads?.bound === 2);
    await second.stop();
  });

  it('two replicas with the same POD_NAME hold the Lease under different identities, and only one leads at a time', async () => {
    await stopAll();
    const ns = await createNamespace('samename');
    // Released by the graceful stop of the previous test's leader, or expired by now.
    const env = { POD_NAME: 'apiaccess-operator-0' };
    const first = await operatorIn(ns, ['--leader-elect'], { env });
    const second = await operatorIn(ns, ['--leader-elect'], { env, until: 'Synced caches' });
    await sleep(8_000);
    const problems: string[] = [];
    const both = [await leads(first), await leads(second)];
    if (both.every(Boolean)) problems.push('both processes lead at once (apiaccess_leader is 1 on each)');
    const firstHolder = await leaseHolder();
    const leader = both[0] ? first : second;
    const standby = leader === first ? second : first;
    await leader.kill();
    await waitFor(async () => await leads(standby), { timeoutMs: WITHIN_MS, what: 'the remaining process to lead' });
    await applyYaml([profile(ns, 'same', { auth: 'ServiceAccount' }), deployment(ns, 'w', { [PROFILE]: 'same' })]);
    await injected(ns, 'w', 'same');
    const secondHolder = await leaseHolder();
    if (firstHolder === secondHolder) problems.push(`both processes held the Lease as "${firstHolder}" (identity is the bare POD_NAME)`);
    await standby.stop();
    assert.deepEqual(problems, []);
  });

  it('a restart of a converged operator writes nothing: no status, no workload, no Event', async () => {
    const ns = await createNamespace('restart');
    // Many workloads, and kinds whose check reads their Pods (OnDelete StatefulSets do not replace
    // them), so that after a restart the workload queue takes a while to know every binding again.
    const deployments = Array.from({ length: 20 }, (_, i) => `d${String(i).padStart(2, '0')}`);
    const statefulSets = Array.from({ length: 40 }, (_, i) => `s${String(i).padStart(2, '0')}`);
    const count = deployments.length + statefulSets.length;
    let op = await operatorIn(ns);
    await applyYaml([
      profile(ns, 'many', { auth: 'ServiceAccount', permissions: { rules: readerRules } }),
      ...deployments.map((n) => deployment(ns, n, { [PROFILE]: 'many' })),
      ...statefulSets.map((n) => onDeleteStatefulSet(ns, n, { [PROFILE]: 'many' })),
    ]);
    await profileWhere(ns, 'many', `Ready=True with ${count} bound`, (p) => condition(p, 'Ready')?.status === 'True' && p.status.workloads?.bound === count, 180_000);
    await sleep(5_000);
    assert.equal(await op.stop(), 0, 'the operator stops gracefully');

    const mark = await auditMark();
    const eventsBefore = new Set((await operatorEvents(ns)).map((e) => e.metadata.name));
    op = await operatorIn(ns);
    await waitFor(
      async () => {
        const text = await op.metrics();
        return metricValue(text, 'apiaccess_reconcile_total', { controller: 'workload' }) >= count && metricValue(text, 'apiaccess_reconcile_total', { controller: 'profile' }) >= 1;
      },
      { timeoutMs: WITHIN_MS, what: 'the restarted operator to reconcile every workload and the profile' },
    );
    await sleep(15_000);
    const writes = (await auditEventsSince(mark, operatorWrite)).map(describeWrite);
    const events = (await operatorEvents(ns)).filter((e) => !eventsBefore.has(e.metadata.name)).map((e) => `${e.reason} on ${e.involvedObject.kind} ${e.involvedObject.name}: ${e.message}`);
    await op.stop();
    const updates = op.logs.filter((l) => l.msg === 'Updated ApiAccessProfile status').map((l) => JSON.stringify([l.time, l.changed, l.workloads]));
    const first = op.logs.filter((l) => ['Started reconciling', 'Synced caches'].includes(l.msg)).map((l) => `${l.msg}@${String(l.time)}`);
    updates.push(...first);
    assert.deepEqual({ writes, events }, { writes: [], events: [] }, `the restarted operator wrote to a converged system (status changes: ${updates.join(', ')})`);
  });

  it('a bulk binding costs one write per workload and no read; an RBAC change that does not concern the profile asks no SubjectAccessReview', async () => {
    const ns = await createNamespace('cost');
    const op = await operatorIn(ns);
    await applyYaml([profile(ns, 'bulk', { auth: 'ServiceAccount', permissions: { rules: readerRules } })]);
    await conditionIs(ns, 'bulk', 'Ready', 'True');
    await sleep(6_000); // past the review cache's settle time, so that the verdicts are kept
    const count = 150;
    const requests = (text: string, labels: Record<string, string>): number => metricValue(text, 'apiaccess_kube_requests_total', labels);
    const before = await op.metrics();
    const started = Date.now();
    await applyYaml(Array.from({ length: count }, (_, i) => deployment(ns, `b${String(i).padStart(3, '0')}`, { [PROFILE]: 'bulk' })));
    await profileWhere(ns, 'bulk', `${count} bound`, (p) => p.status.workloads?.bound === count && condition(p, 'WorkloadsBound')?.status === 'True', 180_000);
    await sleep(3_000);
    const after = await op.metrics();
    const delta = (labels: Record<string, string>): number => requests(after, labels) - requests(before, labels);
    const cost = {
      workloadWrites: delta({ verb: 'PATCH', resource: 'deployments' }),
      reads: delta({ verb: 'GET' }) + delta({ verb: 'LIST' }),
      reviews: delta({ resource: 'subjectaccessreviews' }),
    };
    assert.deepEqual(cost, { workloadWrites: count, reads: 0, reviews: 0 }, 'one apply per workload, nothing read, nothing asked again');
    const events = delta({ verb: 'POST', resource: 'events' });
    // The burst of 10, one more per second the binding took, and a summary per 10 s: far fewer than one per workload.
    const seconds = Math.ceil((Date.now() - started) / 1000);
    const allowed = 10 + seconds + Math.ceil(seconds / 10) + 1;
    assert.ok(events <= Math.min(allowed, count / 4), `${events} Events for ${count} workloads in ${seconds} s: routine ones beyond the burst are summed up on the profile`);
    await waitFor(async () => (await operatorEvents(ns)).find((e) => e.involvedObject.kind === 'ApiAccessProfile' && /^Injected access into \d+ more workloads/.test(e.message)), {
      timeoutMs: WITHIN_MS,
      what: 'the summary Event on the profile',
    });

    const reviewsBefore = requests(await op.metrics(), { resource: 'subjectaccessreviews' });
    await applyYaml([
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'unrelated', namespace: ns }, rules: readerRules },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'unrelated', namespace: ns },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'unrelated' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'someone-else' }],
      },
    ]);
    await sleep(3_000);
    assert.equal(requests(await op.metrics(), { resource: 'subjectaccessreviews' }) - reviewsBefore, 0, 'a binding of another user does not re-verify the profile');
    // Its own RoleBinding deleted: restored, and its access asked again (the RBAC that decides it changed).
    const own = await admin.request<{ items: Obj[] }>('GET', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, { query: { labelSelector: 'apiaccess.dev/profile-name=bulk' } });
    assert.equal(own.items.length, 1, 'the profile has one RoleBinding');
    await admin.delete(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings/${own.items[0]!.metadata.name}`);
    await waitFor(async () => (await admin.get(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings/${own.items[0]!.metadata.name}`)) !== undefined, { timeoutMs: WITHIN_MS, what: 'the RoleBinding restored' });
    await waitFor(async () => requests(await op.metrics(), { resource: 'subjectaccessreviews' }) > reviewsBefore, { timeoutMs: WITHIN_MS, what: 'the access verified again' });
    await conditionIs(ns, 'bulk', 'AccessVerified', 'True');
    await op.stop();
  });

  it('a Deployment whose pod template carries the profile label too (kustomize commonLabels): its ReplicaSet and Pod are not reported as unsupported', async () => {
    const ns = await createNamespace('inherit');
    const op = await operatorIn(ns);
    await applyYaml([
      profile(ns, 'kust', { auth: 'ServiceAccount', permissions: { rules: readerRules } }),
      deployment(ns, 'kust', { [PROFILE]: 'kust' }, { replicas: 1, podLabels: { [PROFILE]: 'kust' } }),
    ]);
    await injected(ns, 'kust', 'kust');
    const labelled = `${PROFILE}=kust`;
    await waitFor(
      async () => {
        const rs = await admin.request<{ items: Obj[] }>('GET', `/apis/apps/v1/namespaces/${ns}/replicasets`, { query: { labelSelector: labelled } });
        const pods = await admin.request<{ items: Obj[] }>('GET', `/api/v1/namespaces/${ns}/pods`, { query: { labelSelector: labelled } });
        return rs.items.length > 0 && pods.items.length > 0;
      },
      { timeoutMs: WITHIN_MS, what: 'a ReplicaSet and a Pod carrying the inherited label' },
    );
    await sleep(5_000);
    const p = await profileWhere(ns, 'kust', 'Ready=True, 1 bound, 0 unsupported', (x) => condition(x, 'Ready')?.status === 'True' && x.status.workloads?.bound === 1 && x.status.workloads?.unsupported === 0);
    assert.deepEqual(p.status.workloads, { bound: 1, pending: 0, unsupported: 0, conflicted: 0, containerNotFound: 0, unreadable: 0, failed: 0 });
    const unsupported = (await operatorEvents(ns)).filter((e) => e.reason === 'UnsupportedWorkload').map((e) => `${e.involvedObject.kind} ${e.involvedObject.name}: ${e.message}`);
    assert.deepEqual(unsupported, [], 'UnsupportedWorkload Events on the Deployment\'s own ReplicaSet or Pod');
    await op.stop();
  });

  it('a bare Pod with the label (no owner) is unsupported: counted, WorkloadsBound False, an Event on the Pod', async () => {
    const ns = await createNamespace('barepod');
    const op = await operatorIn(ns);
    await applyYaml([
      profile(ns, 'solo', { auth: 'ServiceAccount' }),
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'lonely', namespace: ns, labels: { [PROFILE]: 'solo' } }, spec: { containers: [{ name: 'c', image: 'example/c:1' }] } },
    ]);
    const p = await conditionIs(ns, 'solo', 'WorkloadsBound', 'False', 'UnsupportedWorkload');
    assert.equal(p.status.workloads.unsupported, 1);
    assert.notEqual(condition(p, 'Ready')?.status, 'True');
    await waitFor(async () => (await operatorEvents(ns)).find((e) => e.reason === 'UnsupportedWorkload' && e.involvedObject.kind === 'Pod' && e.involvedObject.name === 'lonely'), {
      timeoutMs: WITHIN_MS,
      what: 'an UnsupportedWorkload Event on Pod lonely',
    });
    await op.stop();
  });

  describe('a kubeconfig from a user ConfigMap, edited under the operator', { concurrency: false }, () => {
    let ns: string;
    let op: OperatorProcess;
    let good: string;
    let firstHash: string;
    const configMap = (kubeconfig: string): object => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'agent-kubeconfig', namespace: ns }, data: { config: kubeconfig } });
    const agentKubeconfig = async (server: string): Promise<string> =>
      kubeconfigYaml({ server, caFile: info.caFile, user: 'kip-agent', credential: { certFile: info.clientCerts['kip-agent'].certFile, keyFile: info.clientCerts['kip-agent'].keyFile } });

    before(async () => {
      ns = await createNamespace('cmedit');
      op = await operatorIn(ns);
      good = await agentKubeconfig('https://kubernetes.default.svc');
      await applyYaml([
        configMap(good),
        profile(ns, 'cm', { auth: 'Kubeconfig', kubeconfig: { source: 'ConfigMap', name: 'agent-kubeconfig', key: 'config' } }),
        deployment(ns, 'agent', { [PROFILE]: 'cm' }, { replicas: 1 }),
      ]);
      await conditionIs(ns, 'cm', 'CredentialsReady', 'True', 'KubeconfigValid');
      firstHash = (await injected(ns, 'agent', 'cm')).spec.template.metadata.annotations[HASH];
    });
    after(async () => {
      await op?.stop();
    });

    it('malformed YAML in the ConfigMap turns CredentialsReady False (KubeconfigMalformed) without touching the profile; fixing it turns it True', async () => {
      const generation = (await admin.get<Obj>(profilePath(ns, 'cm')))?.metadata.generation;
      const template = (await admin.get<Obj>(deploymentPath(ns, 'agent')))!.spec.template;
      await applyYaml([configMap('apiVersion: v1\nclusters: [\n  - name: broken\n')]);
      const broken = await conditionIs(ns, 'cm', 'CredentialsReady', 'False', 'KubeconfigMalformed', 60_000);
      assert.equal(broken.metadata.generation, generation, 'the profile itself was not changed');
      await new Promise((r) => setTimeout(r, 2000)); // the workload queue runs beside the profile's
      assert.deepEqual((await admin.get<Obj>(deploymentPath(ns, 'agent')))!.spec.template, template, 'a broken kubeconfig rolls nothing out');
      assert.match(condition(broken, 'CredentialsReady')!.message, /agent-kubeconfig/);
      await applyYaml([configMap(good)]);
      await conditionIs(ns, 'cm', 'CredentialsReady', 'True', 'KubeconfigValid', 60_000);
    });

    it('a changed kubeconfig in the ConfigMap changes the pod template (its kubeconfig digest), so the Deployment rolls out; the config-hash stays', async () => {
      const before = (await admin.get<Obj>(deploymentPath(ns, 'agent')))!;
      const digest = before.spec.template.metadata.annotations[DIGEST];
      assert.ok(digest, 'the injected template carries the digest of the ConfigMap\'s kubeconfig');
      await applyYaml([configMap(await agentKubeconfig('https://10.96.0.1:443'))]);
      const d = await waitFor(
        async () => {
          const x = await admin.get<Obj>(deploymentPath(ns, 'agent'));
          const now = x?.spec.template.metadata?.annotations?.[DIGEST];
          if (now !== undefined && now !== digest) return x;
          throw new Error(`last seen: kubeconfig digest ${now}`);
        },
        { timeoutMs: WITHIN_MS, intervalMs: 500, what: `Deployment ${ns}/agent to carry a kubeconfig digest other than ${digest}` },
      );
      assert.ok(d.metadata.generation! > before.metadata.generation!, 'the pod template changed: the Deployment rolls out');
      assert.equal(d.spec.template.metadata.annotations[HASH], firstHash, 'the config-hash, which the ApiAccess construct renders too, is unchanged');
    });
  });

  it('a write refused once (an admission policy) is retried: RBACReady says why while refused, and turns True once the cause is gone, with nobody touching the profile', async () => {
    const ns = await createNamespace('retry');
    const policy = `deny-${ns}-binding`;
    const frozen = `RoleBindings named apiaccess:retry are frozen in ${ns}`;
    await applyYaml([
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingAdmissionPolicy',
        metadata: { name: policy },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: { resourceRules: [{ apiGroups: ['rbac.authorization.k8s.io'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['rolebindings'] }] },
          validations: [{ expression: `!(request.namespace == '${ns}' && object.metadata.name == 'apiaccess:retry')`, message: frozen }],
        },
      },
      { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: policy }, spec: { policyName: policy, validationActions: ['Deny'] } },
    ]);
    // The policy is enforced once the API server's admission informers have it: a dry-run shows when.
    const probe = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'apiaccess:retry', namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'apiaccess:retry' },
      subjects: [{ kind: 'ServiceAccount', name: 'retry', namespace: ns }],
    };
    await waitFor(
      async () => {
        try {
          await admin.apply(probe, { fieldManager: 'apiaccess-test', force: true, dryRun: true });
          return false;
        } catch (error) {
          return (error as Error).message.includes('frozen');
        }
      },
      { timeoutMs: 60_000, what: `ValidatingAdmissionPolicy ${policy} to be enforced` },
    );
    const op = await operatorIn(ns);
    await applyYaml([profile(ns, 'retry', { auth: 'ServiceAccount', permissions: { rules: readerRules } })]);
    const refused = await conditionIs(ns, 'retry', 'RBACReady', 'False');
    assert.match(condition(refused, 'RBACReady')!.message, /frozen/, 'the message names the denial');
    const generation = refused.metadata.generation;

    await admin.delete(`/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/${policy}`);
    await admin.delete(`/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/${policy}`);
    const p = await conditionIs(ns, 'retry', 'RBACReady', 'True', 'RBACApplied');
    assert.equal(p.metadata.generation, generation, 'nobody touched the profile');
    assert.ok(await admin.get(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings/apiaccess:retry`), 'the RoleBinding exists');
    await op.stop();
  });
});
