// The reconcilers end to end, with an operator process this file controls (stopped, killed,
// restarted, its requests counted from its metrics) on a control plane of its own with no node, so
// no other test's operator acts on its objects. It runs the compiled CLI as its own ServiceAccount
// with only the synthesized ClusterRole. What Pods really get is proven in workload-access.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeClient, KubeObject } from '../operator/kube/client.ts';
import { kubeconfigYaml } from './cluster/kubeconfig.ts';
import { applyYaml, createNamespace, stopPrivateControlPlane, testCluster, usePrivateControlPlane, waitFor } from './harness.ts';
import { adminClient, startOperator, WRITE_VERBS, type OperatorProcess } from './operator-process.ts';

const HASH = 'apiaccess.dev/config-hash';
const PROFILE = 'apiaccess.dev/profile';
const INJECTED = 'apiaccess.dev/injected';

// Tests navigate deep into objects the API server returns; `any` keeps that readable.
type Obj = KubeObject & { spec?: any; status?: any; data?: Record<string, string> };

let admin: KubeClient;
let ns: string;
let operator: OperatorProcess;

const get = async (path: string): Promise<Obj | undefined> => admin.get<Obj>(path);
const deploymentPath = (name: string): string => `/apis/apps/v1/namespaces/${ns}/deployments/${name}`;
const profilePath = (name: string): string => `/apis/apiaccess.dev/v1alpha1/namespaces/${ns}/apiaccessprofiles/${name}`;

function profile(name: string, spec: object): object {
  return { apiVersion: 'apiaccess.dev/v1alpha1', kind: 'ApiAccessProfile', metadata: { name, namespace: ns }, spec };
}

function deployment(name: string, labels: Record<string, string>, containers = ['app']): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: containers.map((c) => ({ name: c, image: 'example/app:1' })) },
      },
    },
  };
}

const readerRules = [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }];

/** The profile's status once the operator observed its current generation and the condition holds. */
async function waitForCondition(name: string, type: string, status: string, reason?: string): Promise<Obj> {
  return waitFor(
    async () => {
      const p = await get(profilePath(name));
      const c = p?.status?.conditions?.find((x: { type: string }) => x.type === type);
      const current = p?.status?.observedGeneration === p?.metadata.generation;
      return current && c?.status === status && (reason === undefined || c.reason === reason) ? p : undefined;
    },
    { timeoutMs: 60_000, what: `${name} ${type}=${status}${reason ? ` (${reason})` : ''}` },
  );
}

/** The Deployment once its template carries a config hash different from `previous`. */
async function waitForHash(name: string, previous?: string): Promise<Obj> {
  return waitFor(
    async () => {
      const d = await get(deploymentPath(name));
      const hash = d?.spec.template.metadata?.annotations?.[HASH];
      return hash !== undefined && hash !== previous ? d : undefined;
    },
    { timeoutMs: 60_000, what: `Deployment ${name} to carry a new config hash` },
  );
}

describe('operator process on a control plane of its own', { concurrency: false }, () => {
  before(async () => {
    await usePrivateControlPlane();
    admin = adminClient();
    ns = await createNamespace('op');
    operator = await startOperator(ns);
  });
  after(async () => {
    const code = await operator?.stop();
    admin?.close();
    await stopPrivateControlPlane();
    assert.equal(code, 0, 'the operator exits 0 on SIGTERM');
  });

  let lastHash: string | undefined;

  it('ServiceAccount mode binds a labelled Deployment and a CronJob', async () => {
    await applyYaml([
      profile('reader', { auth: 'ServiceAccount', permissions: { rules: readerRules } }),
      deployment('web', { [PROFILE]: 'reader' }),
      {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: { name: 'report', namespace: ns, labels: { [PROFILE]: 'reader' } },
        spec: { schedule: '0 0 1 1 *', jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'report', image: 'example/report:1' }] } } } } },
      },
    ]);
    const d = await waitForHash('web');
    lastHash = d.spec.template.metadata.annotations[HASH];
    const spec = d.spec.template.spec;
    assert.equal(spec.serviceAccountName, 'reader');
    assert.equal(spec.automountServiceAccountToken, true);
    assert.equal(d.metadata.labels?.[INJECTED], 'reader');
    const cron = await waitFor(async () => {
      const c = await get(`/apis/batch/v1/namespaces/${ns}/cronjobs/report`);
      return c?.spec.jobTemplate.spec.template.spec.serviceAccountName === 'reader' ? c : undefined;
    }, { what: 'the CronJob to be injected' });
    assert.equal(cron.spec.jobTemplate.spec.template.spec.automountServiceAccountToken, true);
    const p = await waitForCondition('reader', 'Ready', 'True');
    assert.deepEqual(p.status.workloads, { bound: 2, pending: 0, unsupported: 0, conflicted: 0, containerNotFound: 0, unreadable: 0, failed: 0 });
    assert.equal(p.status.serviceAccountName, 'reader');
    assert.ok(p.metadata.finalizers?.includes('apiaccess.dev/finalizer'));
  });

  it('switching to Kubeconfig/Generated replaces the injection with the generated kubeconfig and no token mount', async () => {
    await applyYaml([profile('reader', { auth: 'Kubeconfig', permissions: { rules: readerRules } })]);
    const d = await waitForHash('web', lastHash);
    lastHash = d.spec.template.metadata.annotations[HASH];
    const spec = d.spec.template.spec;
    assert.equal(spec.automountServiceAccountToken, false);
    assert.deepEqual(spec.containers[0].env, [{ name: 'KUBECONFIG', value: '/etc/apiaccess/kubeconfig' }]);
    assert.equal(spec.volumes.length, 1);
    // The profile reconciler writes the ConfigMap while the workload reconciler injects: either may come first.
    const cm = await waitFor(async () => (await get(`/api/v1/namespaces/${ns}/configmaps/apiaccess-reader-kubeconfig`))?.data?.kubeconfig, {
      what: 'the generated kubeconfig ConfigMap',
    });
    assert.match(cm, /tokenFile: \/etc\/apiaccess\/token/);
    await waitForCondition('reader', 'Ready', 'True');
  });

  it('switching to a user ConfigMap (the seed-000 shape at /etc/kip) mounts it as the seed does and reports the credential inside', async () => {
    const cluster = testCluster();
    // The agent's own identity: a client certificate (O=apiaccess:kip) allowed to list pods, as in seed 000.
    const kubeconfig = await kubeconfigYaml({
      server: 'https://kubernetes.default.svc',
      caFile: cluster.caFile,
      user: 'kip-agent',
      credential: { certFile: cluster.clientCerts['kip-agent'].certFile, keyFile: cluster.clientCerts['kip-agent'].keyFile },
    });
    await applyYaml([
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kip-config', namespace: ns }, data: { kubeconfig } },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'kip-agent', namespace: ns }, rules: readerRules },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'kip-agent', namespace: ns },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'kip-agent' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'kip-agent' }],
      },
      profile('reader', { auth: 'Kubeconfig', kubeconfig: { source: 'ConfigMap', name: 'kip-config', mountPath: '/etc/kip' } }),
    ]);
    const d = await waitForHash('web', lastHash);
    lastHash = d.spec.template.metadata.annotations[HASH];
    assert.deepEqual(d.spec.template.spec.volumes, [
      { name: 'apiaccess-reader', configMap: { name: 'kip-config', items: [{ key: 'kubeconfig', path: 'kubeconfig', mode: 384 }], defaultMode: 420 } },
    ]);
    assert.deepEqual(d.spec.template.spec.containers[0].volumeMounts, [{ name: 'apiaccess-reader', mountPath: '/etc/kip', readOnly: true }]);
    const p = await waitForCondition('reader', 'CredentialsProtected', 'False', 'CredentialsInConfigMap');
    assert.match(JSON.stringify(p.status.conditions), /client-key-data/);
    assert.equal(await get(`/api/v1/namespaces/${ns}/configmaps/apiaccess-reader-kubeconfig`), undefined, 'the generated kubeconfig is gone');
  });

  it('switching to a Secret mounts it without the operator reading it', async () => {
    const cm = await get(`/api/v1/namespaces/${ns}/configmaps/kip-config`);
    await applyYaml([
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'kip-secret', namespace: ns }, stringData: { kubeconfig: cm?.data?.kubeconfig ?? '' } },
      profile('reader', { auth: 'Kubeconfig', kubeconfig: { source: 'Secret', name: 'kip-secret', mountPath: '/etc/kip' } }),
    ]);
    const d = await waitForHash('web', lastHash);
    lastHash = d.spec.template.metadata.annotations[HASH];
    assert.equal(d.spec.template.spec.volumes[0].secret.secretName, 'kip-secret');
    await waitForCondition('reader', 'CredentialsReady', 'True', 'SecretNotInspected');
  });

  it('a GitOps re-apply of the original Deployment by another manager keeps the injection and causes no operator write', async () => {
    await sleep(2000);
    const before = await operator.requests(WRITE_VERBS);
    await applyYaml([deployment('web', { [PROFILE]: 'reader' })], { fieldManager: 'argocd-controller' });
    await sleep(5000);
    const d = await get(deploymentPath('web'));
    assert.equal(d?.spec.template.metadata.annotations[HASH], lastHash);
    assert.equal(d?.spec.template.spec.volumes[0].secret.secretName, 'kip-secret');
    assert.equal(await operator.requests(WRITE_VERBS), before, 'the operator wrote after a no-op GitOps re-apply');
  });

  it('removing the label removes every injected field and leaves no residue', async () => {
    const original = await get(deploymentPath('web'));
    await applyYaml([deployment('web', {})], { fieldManager: 'argocd-controller' });
    // The test's own field manager still owns the label from the first apply; drop it too.
    await admin.request('PATCH', deploymentPath('web'), {
      body: [{ op: 'remove', path: `/metadata/labels/${PROFILE.replace('/', '~1')}` }],
      contentType: 'application/json-patch+json',
    }).catch(() => undefined);
    const d = await waitFor(async () => {
      const x = await get(deploymentPath('web'));
      return x?.metadata.labels?.[INJECTED] === undefined && x?.spec.template.metadata.annotations?.[HASH] === undefined ? x : undefined;
    }, { what: 'the injection to be removed' });
    const spec = d.spec.template.spec;
    assert.equal(spec.serviceAccountName, undefined);
    assert.equal(spec.serviceAccount, undefined);
    assert.equal(spec.automountServiceAccountToken, undefined);
    assert.equal(spec.volumes, undefined);
    assert.equal(spec.containers[0].env, undefined);
    assert.equal(spec.containers[0].volumeMounts, undefined);
    assert.ok(original?.spec.template.spec.volumes, 'it had a volume before');
    const managers = (d.metadata.managedFields as Array<{ manager: string }>).map((m) => m.manager);
    assert.ok(!managers.includes('apiaccess-operator'), `apiaccess-operator still owns fields: ${managers.join(', ')}`);
  });

  it('two profiles in one namespace bind their own workloads; a label naming a missing profile is reported on the workload', async () => {
    await applyYaml([
      profile('alpha', { auth: 'ServiceAccount' }),
      profile('beta', { auth: 'Kubeconfig', containers: ['sidecar'] }),
      deployment('a', { [PROFILE]: 'alpha' }),
      deployment('b', { [PROFILE]: 'beta' }, ['app', 'sidecar']),
      deployment('ghost', { [PROFILE]: 'nobody' }),
    ]);
    const a = await waitForHash('a');
    const b = await waitForHash('b');
    assert.equal(a.spec.template.spec.serviceAccountName, 'alpha');
    assert.equal(b.spec.template.spec.serviceAccountName, 'beta');
    assert.equal(b.spec.template.spec.containers[0].env, undefined, 'only the selected container');
    assert.equal(b.spec.template.spec.containers[1].env[0].name, 'KUBECONFIG');
    const events = await waitFor(async () => {
      const list = await admin.request<{ items: Array<{ reason: string; message: string; involvedObject: { name: string } }> }>('GET', `/api/v1/namespaces/${ns}/events`);
      return list.items.find((e) => e.involvedObject.name === 'ghost' && e.reason === 'ProfileNotFound');
    }, { what: 'a ProfileNotFound Event on Deployment ghost' });
    assert.match(events.message, /apiaccess\.dev\/profile=nobody names no ApiAccessProfile/);
    const ghost = await get(deploymentPath('ghost'));
    assert.equal(ghost?.spec.template.spec.serviceAccountName, undefined);
  });

  it('a labelled Job is reported as unsupported, never changed', async () => {
    await applyYaml([
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'once', namespace: ns, labels: { [PROFILE]: 'alpha' } },
        spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'example/once:1' }] } } },
      },
    ]);
    const p = await waitFor(async () => {
      const x = await get(profilePath('alpha'));
      return x?.status?.workloads?.unsupported === 1 ? x : undefined;
    }, { what: 'alpha to count one unsupported workload' });
    assert.match(JSON.stringify(p.status.conditions), /UnsupportedWorkload/);
    const job = await get(`/apis/batch/v1/namespaces/${ns}/jobs/once`);
    assert.equal(job?.spec.template.spec.serviceAccountName, undefined);
  });

  it('an idle period costs zero writes', async () => {
    await sleep(3000);
    const before = await operator.requests(WRITE_VERBS);
    const reads = await operator.requests(['GET', 'LIST']);
    await sleep(Number(process.env.APIACCESS_IDLE_MS ?? 60_000));
    assert.equal(await operator.requests(WRITE_VERBS), before, 'writes while idle');
    assert.equal(await operator.requests(['GET', 'LIST']), reads, 'polling while idle');
  });

  it('deleting a profile removes its injections, collects owned objects and releases the finalizer', async () => {
    await applyYaml([profile('gamma', { auth: 'Kubeconfig', permissions: { scope: 'Cluster', rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['list'] }] } }), deployment('g', { [PROFILE]: 'gamma' })]);
    await waitForHash('g');
    await waitForCondition('gamma', 'Ready', 'True');
    const clusterRole = `/apis/rbac.authorization.k8s.io/v1/clusterroles/apiaccess:${ns}:gamma`;
    assert.ok(await get(clusterRole));
    await admin.delete(profilePath('gamma'));
    await waitFor(async () => (await get(profilePath('gamma'))) === undefined, { what: 'the profile to be gone (finalizer released)' });
    const g = await get(deploymentPath('g'));
    assert.equal(g?.spec.template.spec.serviceAccountName, undefined);
    assert.equal(g?.metadata.labels?.[INJECTED], undefined);
    assert.equal(await get(clusterRole), undefined, 'the ClusterRole is deleted by the finalizer');
    // Namespaced objects go with the garbage collector (its resync for a new CRD's owners can take ~30 s).
    await waitFor(async () => (await get(`/api/v1/namespaces/${ns}/configmaps/apiaccess-gamma-kubeconfig`)) === undefined, {
      timeoutMs: 90_000,
      what: 'the generated kubeconfig ConfigMap to be garbage-collected',
    });
    await waitFor(async () => (await get(`/api/v1/namespaces/${ns}/serviceaccounts/gamma`)) === undefined, { timeoutMs: 90_000, what: 'ServiceAccount gamma to be collected' });
  });

  it('a label removed while the operator is stopped is cleaned up after it restarts; a restart converges without duplicates', async () => {
    await applyYaml([deployment('late', { [PROFILE]: 'alpha' }), profile('delta', { auth: 'Kubeconfig' }), deployment('mid', { [PROFILE]: 'delta' })]);
    await waitForHash('late');
    await waitForHash('mid');
    assert.equal(await operator.stop(), 0);
    await admin.request('PATCH', deploymentPath('late'), {
      body: [{ op: 'remove', path: `/metadata/labels/${PROFILE.replace('/', '~1')}` }],
      contentType: 'application/json-patch+json',
    });
    // Restarting mid-sync: change delta while the operator is down, start it, kill it early, start again.
    await applyYaml([profile('delta', { auth: 'Kubeconfig', kubeconfig: { mountPath: '/etc/delta' } })]);
    const crashed = await startOperator(ns);
    await crashed.kill();
    operator = await startOperator(ns);
    await waitFor(async () => {
      const x = await get(deploymentPath('late'));
      return x?.metadata.labels?.[INJECTED] === undefined && x?.spec.template.spec.serviceAccountName === undefined;
    }, { what: 'the unlabelled Deployment to be cleaned up after the restart' });
    const mid = await waitFor(async () => {
      const x = await get(deploymentPath('mid'));
      return x?.spec.template.spec.containers[0].volumeMounts?.[0]?.mountPath === '/etc/delta' ? x : undefined;
    }, { what: 'mid to carry the changed mountPath' });
    assert.equal(mid.spec.template.spec.volumes.length, 1, 'one volume');
    assert.equal(mid.spec.template.spec.containers[0].env.length, 1, 'one env entry');
    assert.equal(mid.spec.template.spec.containers[0].volumeMounts.length, 1, 'one mount');
  });

  it('a spec that slipped past admission (written straight to etcd) lands in status and Events', async () => {
    const cluster = testCluster();
    const stored = {
      apiVersion: 'apiaccess.dev/v1alpha1',
      kind: 'ApiAccessProfile',
      metadata: { name: 'legacy', namespace: ns, uid: '0b7d4b0e-6c9f-4c71-9a37-7d1c8f0e5a11', generation: 1, creationTimestamp: new Date().toISOString() },
      spec: { auth: 'Kubeconfig', kubeconfig: { source: 'ConfigMap', fileMode: 4095 } },
    };
    const key = `/registry/apiaccess.dev/apiaccessprofiles/${ns}/legacy`;
    const res = await fetch(`${cluster.etcdUrl}/v3/kv/put`, {
      method: 'POST',
      body: JSON.stringify({ key: Buffer.from(key).toString('base64'), value: Buffer.from(JSON.stringify(stored)).toString('base64') }),
    });
    assert.equal(res.status, 200, await res.text());
    const p = await waitForCondition('legacy', 'Ready', 'False', 'InvalidSpec');
    const message = p.status.conditions.find((c: { type: string }) => c.type === 'Ready').message;
    assert.match(message, /spec\.kubeconfig\.fileMode: fileMode must be between 0 and 511 \(0777\), got 4095/);
    assert.match(message, /spec\.kubeconfig\.name: name is required when source is ConfigMap/);
    const event = await waitFor(async () => {
      const list = await admin.request<{ items: Array<{ reason: string; type: string; involvedObject: { name: string; kind: string } }> }>('GET', `/api/v1/namespaces/${ns}/events`);
      return list.items.find((e) => e.involvedObject.kind === 'ApiAccessProfile' && e.involvedObject.name === 'legacy' && e.reason === 'InvalidSpec');
    }, { what: 'an InvalidSpec Event on the profile' });
    assert.equal(event.type, 'Warning');
  });
});
