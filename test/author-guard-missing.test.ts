// Without the admission policies that stamp authors (deleted, or a cluster too old for them) the
// operator grants nothing new and says why (AuthorUnknown); a profile from before the guard keeps
// the RBAC it has until it is re-applied. On a control plane of its own, with the operator process
// running as its own ServiceAccount, since deleting cluster-wide policies would disturb other tests.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AUTHOR_POLICY } from '../operator/desired/author-policies.ts';
import type { KubeClient, KubeObject } from '../operator/kube/client.ts';
import { createNamespace, stopPrivateControlPlane, testCluster, usePrivateControlPlane, waitFor } from './harness.ts';
import { installOperator } from './install.ts';
import { adminClient, startOperator, type OperatorProcess } from './operator-process.ts';

type Obj = KubeObject & { apiVersion: string; kind: string; spec?: any; status?: any };
type Condition = { type: string; status: string; reason: string; message: string };

const ADMISSION = '/apis/admissionregistration.k8s.io/v1';
const POLICY_PATHS = ['mutatingadmissionpolicybindings', 'mutatingadmissionpolicies', 'validatingadmissionpolicybindings', 'validatingadmissionpolicies'].map((r) => `${ADMISSION}/${r}/${AUTHOR_POLICY}`);
const fm = { fieldManager: 'kubectl', force: true };

let admin: KubeClient;
let ns: string;
let operator: OperatorProcess;

const profilePath = (name: string): string => `/apis/apiaccess.dev/v1alpha1/namespaces/${ns}/apiaccessprofiles/${name}`;
const profile = (name: string, spec: object, metadata: object = {}): Obj =>
  ({ apiVersion: 'apiaccess.dev/v1alpha1', kind: 'ApiAccessProfile', metadata: { name, namespace: ns, ...metadata }, spec }) as Obj;
const reader = { auth: 'ServiceAccount', permissions: { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] } };

async function rbac(name: string, status: string, reason: string, message?: RegExp): Promise<Condition> {
  return waitFor(
    async () => {
      const p = await admin.get<Obj>(profilePath(name));
      const c = (p?.status?.conditions as Condition[] | undefined)?.find((x) => x.type === 'RBACReady');
      const current = p?.status?.observedGeneration === p?.metadata.generation;
      return current && c?.status === status && c.reason === reason && (message === undefined || message.test(c.message)) ? c : undefined;
    },
    { timeoutMs: 60_000, what: `${name} RBACReady=${status} (${reason}${message ? `, ${message}` : ''})` },
  );
}

async function deletePolicies(): Promise<void> {
  for (const path of POLICY_PATHS) await admin.request('DELETE', path);
  await waitFor(async () => (await Promise.all(POLICY_PATHS.map((p) => admin.get(p)))).every((o) => o === undefined), { what: 'the author policies to be gone' });
  // The API server's admission plugins learn of the deletions through their own informers, one per
  // kind, a moment later: until both have, a write is still stamped, or refused by the validating
  // policy for lacking a stamp. A server-side dry-run runs admission: once it passes unstamped,
  // admission is really without the guard.
  const probe = profile('apiaccess-unguarded-probe', reader);
  await waitFor(
    async () => {
      try {
        const answer = await admin.apply<Obj>(probe, { ...fm, dryRun: true });
        return answer.spec?.author === undefined ? true : undefined;
      } catch (error) {
        if ((error as { status?: number }).status === 403) return undefined;
        throw error;
      }
    },
    { what: 'admission to run without the author policies' },
  );
}

describe('without the author guard', { concurrency: false }, () => {
  before(async () => {
    await usePrivateControlPlane();
    admin = adminClient();
    ns = await createNamespace('unguarded');
    operator = await startOperator(ns);
  });
  after(async () => {
    await operator?.stop();
    admin?.close();
    await stopPrivateControlPlane();
  });

  it('with the policies in place, an admin\'s profile is stamped and granted', async () => {
    const [created] = [await admin.apply(profile('before', reader), fm)] as Obj[];
    assert.equal(created?.spec.author.username, 'admin');
    await rbac('before', 'True', 'RBACApplied');
  });

  it('once they are deleted, no new grant is applied: a new profile and a changed one get AuthorUnknown naming what is missing', async () => {
    await deletePolicies();
    await admin.apply(profile('during', reader), fm);
    const c = await rbac('during', 'False', 'AuthorUnknown', /MutatingAdmissionPolicy apiaccess-author is missing/);
    assert.match(c.message, /Nothing was granted/);
    assert.equal(await admin.get(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings/apiaccess:during`), undefined);
    assert.equal(await admin.get(`/api/v1/namespaces/${ns}/serviceaccounts/during`), undefined);

    await admin.apply(profile('before', { ...reader, permissions: { rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }] } }), fm);
    const kept = await rbac('before', 'False', 'AuthorUnknown');
    assert.match(kept.message, /The grant accepted at generation 1 \(author admin\) stays in force/);
    const role = await admin.get<{ rules: unknown[] }>(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles/apiaccess:before`);
    assert.deepEqual(role?.rules, reader.permissions.rules, 'the Role still holds the accepted rules');
  });

  it('a profile from before the guard keeps the RBAC it has, untouched, with AuthorUnknown until re-applied', async () => {
    // What an operator without the guard left behind: the profile (no author) and its RoleBinding.
    await admin.apply(profile('legacy', { auth: 'ServiceAccount', permissions: { clusterRoles: ['view'] } }, { finalizers: ['apiaccess.dev/finalizer'] }), fm);
    const binding = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'apiaccess:legacy:view', namespace: ns, labels: { 'app.kubernetes.io/managed-by': 'apiaccess-operator', 'apiaccess.dev/profile-name': 'legacy', 'apiaccess.dev/profile-namespace': ns } },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'ServiceAccount', name: 'legacy', namespace: ns }],
    };
    await admin.apply(binding, { fieldManager: 'apiaccess-operator', force: true });

    await installOperator(testCluster());
    const unknown = await rbac('legacy', 'False', 'AuthorUnknown', /spec\.author is not set/);
    assert.match(unknown.message, /Re-apply it/);
    assert.ok(await admin.get(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings/apiaccess:legacy:view`), 'its RoleBinding was kept');
    const p = await admin.get<Obj>(profilePath('legacy'));
    assert.equal(p?.spec.author, undefined, 'the operator\'s own writes did not make it the author');

    // Re-applying it unchanged stamps the requester, who may grant it.
    const [reapplied] = [await admin.apply(profile('legacy', { auth: 'ServiceAccount', permissions: { clusterRoles: ['view'] } }), fm)] as Obj[];
    assert.equal(reapplied?.spec.author.username, 'admin');
    await rbac('legacy', 'True', 'RBACApplied', /granted by admin/);
  });

  it('restored policies let a re-applied profile be granted', async () => {
    await admin.apply(profile('during', reader), fm);
    await rbac('during', 'True', 'RBACApplied');
    assert.ok(await admin.get(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings/apiaccess:during`));
  });
});
