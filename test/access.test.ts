// AccessVerified, pending rollouts and field conflicts, with the operator running as the Pod of the
// synthesized Deployment on the shared cluster.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeClient, KubeObject } from '../operator/kube/client.ts';
import { applyYaml, createNamespace, waitFor } from './harness.ts';
import { adminClient } from './operator-process.ts';

// Tests navigate deep into objects the API server returns; `any` keeps that readable.
type Obj = KubeObject & { spec?: any; status?: any };
type Condition = { type: string; status: string; reason: string; message: string };
type Event = { reason: string; type: string; message: string; involvedObject: { kind: string; name: string } };

let admin: KubeClient;
let ns: string;

const profilePath = (name: string): string => `/apis/apiaccess.dev/v1alpha1/namespaces/${ns}/apiaccessprofiles/${name}`;
const profile = (name: string, spec: object): object => ({ apiVersion: 'apiaccess.dev/v1alpha1', kind: 'ApiAccessProfile', metadata: { name, namespace: ns }, spec });

async function condition(name: string, type: string, status: string, reason: string, message?: RegExp): Promise<Condition> {
  return waitFor(
    async () => {
      const p = await admin.get<Obj>(profilePath(name));
      const c = (p?.status?.conditions as Condition[] | undefined)?.find((x) => x.type === type);
      const matches = c?.status === status && c.reason === reason && (message === undefined || message.test(c.message));
      return p?.status?.observedGeneration === p?.metadata.generation && matches ? c : undefined;
    },
    { timeoutMs: 60_000, what: `${name} ${type}=${status} (${reason}${message ? `, ${message}` : ''})` },
  );
}

async function event(kind: string, name: string, reason: string): Promise<Event> {
  return waitFor(
    async () => {
      const list = await admin.request<{ items: Event[] }>('GET', `/api/v1/namespaces/${ns}/events`);
      return list.items.find((e) => e.involvedObject.kind === kind && e.involvedObject.name === name && e.reason === reason);
    },
    { what: `a ${reason} Event on ${kind} ${name}` },
  );
}

describe('access verification, pending rollouts and conflicts', { concurrency: false }, () => {
  before(async () => {
    admin = adminClient();
    ns = await createNamespace('access');
  });
  after(() => admin?.close());

  it('AccessVerified is True when the ServiceAccount may do everything declared, including a referenced ClusterRole\'s rules', async () => {
    await applyYaml([profile('reader', { auth: 'ServiceAccount', permissions: { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }], clusterRoles: ['view'] } })]);
    const c = await condition('reader', 'AccessVerified', 'True', 'AccessAllowed');
    assert.match(c.message, new RegExp(`system:serviceaccount:${ns}:reader .*declared permissions allowed`));
    await condition('reader', 'Ready', 'True', 'Ready');
  });

  it('at Namespace scope, a rule on a cluster-scoped resource (nodes) is AccessVerified False, as the real request is denied', async () => {
    await applyYaml([profile('nodes', { auth: 'ServiceAccount', permissions: { rules: [{ apiGroups: [''], resources: ['pods', 'nodes'], verbs: ['list'] }] } })]);
    const c = await condition('nodes', 'AccessVerified', 'False', 'AccessDenied');
    assert.match(c.message, new RegExp(`system:serviceaccount:${ns}:nodes .*may not list nodes cluster-wide.*nodes is cluster-scoped, which a RoleBinding \\(permissions.scope Namespace\\) cannot grant`));
    await condition('nodes', 'RBACReady', 'True', 'RBACApplied');
    await condition('nodes', 'Ready', 'False', 'NotReady');
  });

  it('a missing ClusterRole makes RBACReady and AccessVerified False naming it; creating it re-verifies', async () => {
    const role = `missing-${ns}`;
    await applyYaml([profile('watcher', { auth: 'ServiceAccount', permissions: { clusterRoles: [role] } })]);
    const rbac = await condition('watcher', 'RBACReady', 'False', 'ClusterRoleNotFound');
    assert.match(rbac.message, new RegExp(`ClusterRole ${role} named in spec.permissions.clusterRoles does not exist`));
    await condition('watcher', 'AccessVerified', 'False', 'ClusterRoleNotFound');
    await condition('watcher', 'Ready', 'False', 'NotReady');
    await applyYaml([{ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: role }, rules: [{ apiGroups: [''], resources: ['services'], verbs: ['get'] }] }]);
    await condition('watcher', 'AccessVerified', 'True', 'AccessAllowed');
    await condition('watcher', 'RBACReady', 'True', 'RBACApplied');
  });

  it('a role edited away after binding (another manager took its rules) turns AccessVerified False with the first failing rule and an Event', async () => {
    await applyYaml([profile('editor', { auth: 'ServiceAccount', permissions: { rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'update'] }] } })]);
    await condition('editor', 'AccessVerified', 'True', 'AccessAllowed');
    await applyYaml(
      [{ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'apiaccess:editor', namespace: ns }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }] }],
      { fieldManager: 'someone-else' },
    );
    const c = await condition('editor', 'AccessVerified', 'False', 'AccessDenied');
    assert.match(c.message, new RegExp(`system:serviceaccount:${ns}:editor .* may not update configmaps in namespace ${ns}`));
    const e = await event('ApiAccessProfile', 'editor', 'AccessDenied');
    assert.equal(e.type, 'Warning');
    await condition('editor', 'RBACReady', 'False', 'ApplyFailed', /Role apiaccess:editor: .*conflict/i);
  });

  it('a bare ReplicaSet counts as pending until its Pods carry the injection', async () => {
    await applyYaml([
      profile('batch', { auth: 'ServiceAccount' }),
      {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: { name: 'bare', namespace: ns },
        spec: { replicas: 1, selector: { matchLabels: { app: 'bare' } }, template: { metadata: { labels: { app: 'bare' } }, spec: { containers: [{ name: 'c', image: 'example/c:1' }] } } },
      },
    ]);
    const old = await waitFor(async () => (await admin.request<{ items: Obj[] }>('GET', `/api/v1/namespaces/${ns}/pods`, { query: { labelSelector: 'app=bare' } })).items[0], {
      what: 'the ReplicaSet\'s first Pod',
    });
    await admin.request('PATCH', `/apis/apps/v1/namespaces/${ns}/replicasets/bare`, {
      body: { metadata: { labels: { 'apiaccess.dev/profile': 'batch' } } },
      contentType: 'application/merge-patch+json',
    });
    // Briefly "waiting for ServiceAccount batch" while the profile reconciler creates it.
    await condition('batch', 'WorkloadsBound', 'False', 'RolloutPending', /ReplicaSet .*\/bare: 1 Pod without the current injection/);
    assert.equal((await admin.get<Obj>(profilePath('batch')))?.status.workloads.pending, 1);
    await admin.delete(`/api/v1/namespaces/${ns}/pods/${old.metadata.name}`, { propagationPolicy: 'Background' });
    await condition('batch', 'WorkloadsBound', 'True', 'AllBound');
  });

  it('a field another manager owns with a different value is a FieldConflict: reported, never forced', async () => {
    await applyYaml([profile('agent', { auth: 'ServiceAccount' })]);
    await applyYaml(
      [
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'owned', namespace: ns, labels: { 'apiaccess.dev/profile': 'agent' } },
          spec: {
            replicas: 1,
            selector: { matchLabels: { app: 'owned' } },
            template: { metadata: { labels: { app: 'owned' } }, spec: { serviceAccountName: 'default', containers: [{ name: 'c', image: 'example/c:1' }] } },
          },
        },
      ],
      { fieldManager: 'helm' },
    );
    await condition('agent', 'WorkloadsBound', 'False', 'FieldConflict', /Deployment .*\/owned: not injected: .*conflict.*helm/is);
    const e = await event('Deployment', 'owned', 'FieldConflict');
    assert.equal(e.type, 'Warning');
    const d = await admin.get<Obj>(`/apis/apps/v1/namespaces/${ns}/deployments/owned`);
    assert.equal(d?.spec.template.spec.serviceAccountName, 'default', 'the other manager\'s value stays');
    assert.equal((await admin.get<Obj>(profilePath('agent')))?.status.workloads.conflicted, 1);
  });
});
