// Who may grant what, end to end on the shared cluster with the operator Pod: real identities (a
// tenant with namespace rights, a namespace admin bound to the built-in `admin` role, a cluster admin
// bound to `cluster-admin`, a GitOps ServiceAccount applying as `argocd-controller`) create and
// change profiles; the admission policies stamp each as the author; the operator grants only what
// the author holds. After every refusal a SubjectAccessReview proves nothing was granted and the
// audit log proves no binding was ever written.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KubeClient, KubeObject } from '../operator/kube/client.ts';
import { auditEventsSince, auditMark } from './audit.ts';
import { certificateKubeconfig, signedClientCertificate } from './certificates.ts';
import { writeKubeconfig } from './cluster/kubeconfig.ts';
import { createNamespace, testCluster, waitFor } from './harness.ts';
import { applyAll, clientFor, OPERATOR_NAMESPACE, OPERATOR_SA } from './install.ts';
import { serviceAccountToken } from './metrics.ts';
import { adminClient } from './operator-process.ts';

type Obj = KubeObject & { spec?: any; status?: any };
type Condition = { type: string; status: string; reason: string; message: string };
type Event = { reason: string; type: string; message: string; involvedObject: { kind: string; name: string } };

const RBAC = 'rbac.authorization.k8s.io/v1';
const OPERATOR_USER = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SA}`;

let admin: KubeClient;
let ns: string;
let other: string;
const users: Record<'tina' | 'nadia' | 'carl' | 'gitops', { name: string; kubeconfig: string }> = {} as never;

const profilePath = (name: string, namespace = ns): string => `/apis/apiaccess.dev/v1alpha1/namespaces/${namespace}/apiaccessprofiles/${name}`;
const profile = (name: string, spec: object, namespace = ns): Obj =>
  ({ apiVersion: 'apiaccess.dev/v1alpha1', kind: 'ApiAccessProfile', metadata: { name, namespace }, spec }) as Obj;

async function applyAs(user: keyof typeof users, objects: object[], fieldManager = 'kubectl'): Promise<Obj[]> {
  return (await applyAll(users[user].kubeconfig, objects, fieldManager)) as Obj[];
}

/** The profile once its current generation is decided and `type` has this status and reason. */
async function condition(name: string, type: string, status: string, reason: string, namespace = ns): Promise<Condition> {
  return waitFor(
    async () => {
      const p = await admin.get<Obj>(profilePath(name, namespace));
      const c = (p?.status?.conditions as Condition[] | undefined)?.find((x) => x.type === type);
      return p?.status?.observedGeneration === p?.metadata.generation && c?.status === status && c.reason === reason ? c : undefined;
    },
    { timeoutMs: 60_000, what: `${namespace}/${name} ${type}=${status} (${reason})` },
  );
}

/** May `user` do it? Asked of the API server's authorizer (what a request would get). */
async function can(user: string, attributes: Record<string, string>): Promise<boolean> {
  const groups = user.startsWith('system:serviceaccount:') ? ['system:serviceaccounts', `system:serviceaccounts:${user.split(':')[2]}`, 'system:authenticated'] : ['system:authenticated'];
  const review = await admin.request<{ status?: { allowed?: boolean } }>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
    body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user, groups, resourceAttributes: attributes } },
  });
  return review.status?.allowed === true;
}

const sa = (name: string, namespace = ns): string => `system:serviceaccount:${namespace}:${name}`;

/** The operator's writes of RBAC objects for a profile since `mark`, from the audit log. */
async function rbacWritesFor(mark: number, profileName: string): Promise<string[]> {
  const events = await auditEventsSince(
    mark,
    (e) =>
      e.user.username === OPERATOR_USER &&
      ['create', 'patch', 'update'].includes(e.verb) &&
      ['roles', 'rolebindings', 'clusterroles', 'clusterrolebindings', 'serviceaccounts'].includes(e.objectRef?.resource ?? '') &&
      (e.objectRef?.name ?? '').includes(profileName),
  );
  return events.map((e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.name}`);
}

async function events(name: string, reason: string, namespace = ns): Promise<Event[]> {
  const list = await admin.request<{ items: Event[] }>('GET', `/api/v1/namespaces/${namespace}/events`);
  return list.items.filter((e) => e.involvedObject.kind === 'ApiAccessProfile' && e.involvedObject.name === name && e.reason === reason);
}

async function expectRefused(name: string, author: string, lacking: RegExp): Promise<Condition> {
  const rbac = await condition(name, 'RBACReady', 'False', 'RequesterMayNotGrant');
  assert.match(rbac.message, new RegExp(`^${author} may not grant`));
  assert.match(rbac.message, lacking);
  await condition(name, 'Ready', 'False', 'NotReady');
  const warned = await waitFor(async () => (await events(name, 'RequesterMayNotGrant')).find((e) => e.type === 'Warning'), { what: `a RequesterMayNotGrant Event on ${name}` });
  assert.match(warned.message, new RegExp(author));
  return rbac;
}

async function tokenUser(dir: string, user: string, token: string): Promise<string> {
  const info = testCluster();
  const file = join(dir, `${user.replaceAll(':', '_')}.kubeconfig`);
  await writeKubeconfig(file, { server: info.server, caFile: info.caFile, user, credential: { token } });
  return file;
}

async function certificateUser(dir: string, user: string): Promise<string> {
  const info = testCluster();
  const { certificate, key } = await signedClientCertificate(admin, { user });
  const file = join(dir, `${user}.kubeconfig`);
  writeFileSync(file, await certificateKubeconfig({ server: info.server, caFile: info.caFile, user, certificate, key }), { mode: 0o600 });
  return file;
}

describe('a profile grants only what its author could grant by hand', { concurrency: false }, () => {
  before(async () => {
    admin = adminClient();
    ns = await createNamespace('guard');
    other = await createNamespace('guard-other');
    const dir = mkdtempSync(join(tmpdir(), 'apiaccess-guard-'));
    const fm = { fieldManager: 'apiaccess-test', force: true };
    // tina: only ApiAccessProfiles and Deployments in the namespace (and reading them).
    await admin.apply({ apiVersion: RBAC, kind: 'Role', metadata: { name: 'tenant', namespace: ns }, rules: [
      { apiGroups: ['apiaccess.dev'], resources: ['apiaccessprofiles'], verbs: ['*'] },
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
    ] }, fm);
    await admin.apply({ apiVersion: RBAC, kind: 'RoleBinding', metadata: { name: 'tenant-tina', namespace: ns }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'tenant' }, subjects: [{ kind: 'User', name: 'tina', apiGroup: 'rbac.authorization.k8s.io' }] }, fm);
    // nadia: the built-in admin role in the namespace (profiles come through the aggregated ClusterRole).
    await admin.apply({ apiVersion: RBAC, kind: 'RoleBinding', metadata: { name: 'admin-nadia', namespace: ns }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' }, subjects: [{ kind: 'User', name: 'nadia', apiGroup: 'rbac.authorization.k8s.io' }] }, fm);
    // carl: cluster-admin by a ClusterRoleBinding (not system:masters).
    await admin.apply({ apiVersion: RBAC, kind: 'ClusterRoleBinding', metadata: { name: `guard-carl-${ns}` }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'User', name: 'carl', apiGroup: 'rbac.authorization.k8s.io' }] }, fm);
    // gitops: a ServiceAccount of another namespace, admin of this one (an Argo CD project's scope).
    await admin.apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'gitops', namespace: other } }, fm);
    await admin.apply({ apiVersion: RBAC, kind: 'RoleBinding', metadata: { name: 'admin-gitops', namespace: ns }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' }, subjects: [{ kind: 'ServiceAccount', name: 'gitops', namespace: other }] }, fm);
    users.tina = { name: 'tina', kubeconfig: await certificateUser(dir, 'tina') };
    users.nadia = { name: 'nadia', kubeconfig: await certificateUser(dir, 'nadia') };
    users.carl = { name: 'carl', kubeconfig: await certificateUser(dir, 'carl') };
    users.gitops = { name: sa('gitops', other), kubeconfig: await tokenUser(dir, sa('gitops', other), await serviceAccountToken(admin, other, 'gitops')) };
  });
  after(async () => {
    await admin?.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/guard-carl-${ns}`).catch(() => undefined);
    admin?.close();
  });

  it('a tenant binding cluster-admin at Cluster scope is refused, named, and nothing is ever bound', async () => {
    const mark = await auditMark();
    const [created] = await applyAs('tina', [profile('own-cluster', { auth: 'ServiceAccount', permissions: { scope: 'Cluster', clusterRoles: ['cluster-admin'] } })]);
    assert.equal(created?.spec.author.username, 'tina', 'admission stamped the requester');
    assert.deepEqual(created?.spec.author.groups, ['system:authenticated']);
    const rbac = await expectRefused('own-cluster', 'tina', /ClusterRole cluster-admin: they lack "\* \*\.\* cluster-wide" and may not bind clusterroles\/cluster-admin cluster-wide\. Nothing was granted/);
    assert.ok(rbac);
    assert.equal(await can(sa('own-cluster'), { verb: '*', group: '*', resource: '*' }), false);
    assert.equal(await can(sa('own-cluster'), { verb: 'list', resource: 'secrets', namespace: 'kube-system' }), false);
    assert.deepEqual(await rbacWritesFor(mark, 'own-cluster'), [], 'the operator wrote no ServiceAccount or RBAC for the refused profile');
    const p = await admin.get<Obj>(profilePath('own-cluster'));
    assert.equal(p?.status?.grant, undefined);
  });

  for (const [name, permissions, lacking, probe] of [
    ['wildcard', { rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] }, /spec\.permissions\.rules: they lack "\* \*\.\* in namespace guard-\w+" and may not escalate roles/, { verb: 'delete', group: 'apps', resource: 'deployments' }],
    ['secrets', { rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }] }, /they lack "get secrets in namespace/, { verb: 'get', resource: 'secrets' }],
    ['nodes', { rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }] }, /they lack "get nodes in namespace/, { verb: 'get', resource: 'nodes' }],
    ['view', { clusterRoles: ['view'] }, /ClusterRole view: they lack "get [^"]+" and may not bind clusterroles\/view in namespace/, { verb: 'list', resource: 'configmaps' }],
  ] as const) {
    it(`a tenant granting ${name} at Namespace scope is refused and nothing is granted`, async () => {
      const mark = await auditMark();
      await applyAs('tina', [profile(`t-${name}`, { auth: 'ServiceAccount', permissions })]);
      await expectRefused(`t-${name}`, 'tina', lacking);
      assert.equal(await can(sa(`t-${name}`), { ...probe, namespace: ns }), false);
      assert.deepEqual(await rbacWritesFor(mark, `t-${name}`), []);
    });
  }

  it('a tenant may grant what it holds; editing that profile into cluster-admin is refused and the accepted grant stays', async () => {
    const name = 'deploy-reader';
    const harmless = { auth: 'ServiceAccount', permissions: { rules: [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list'] }] } };
    await applyAs('tina', [profile(name, harmless)]);
    const applied = await condition(name, 'RBACReady', 'True', 'RBACApplied');
    assert.match(applied.message, /granted by tina$/);
    await condition(name, 'Ready', 'True', 'Ready');
    assert.equal(await can(sa(name), { verb: 'list', group: 'apps', resource: 'deployments', namespace: ns }), true);
    const accepted = await admin.get<Obj>(profilePath(name));
    assert.equal(accepted?.status?.grant?.author, 'tina');

    const mark = await auditMark();
    await applyAs('tina', [profile(name, { auth: 'ServiceAccount', permissions: { scope: 'Cluster', clusterRoles: ['cluster-admin'] } })]);
    const refused = await expectRefused(name, 'tina', /cluster-admin/);
    assert.match(refused.message, new RegExp(`The grant accepted at generation ${accepted?.metadata.generation} \\(author tina\\) stays in force`));
    assert.equal(await can(sa(name), { verb: 'list', group: 'apps', resource: 'deployments', namespace: ns }), true, 'the accepted grant still holds');
    assert.equal(await can(sa(name), { verb: '*', group: '*', resource: '*' }), false);
    assert.deepEqual(await rbacWritesFor(mark, name), [], 'no grant appeared to be revoked later');
    const p = await admin.get<Obj>(profilePath(name));
    assert.equal(p?.status?.grant?.permissions.scope, 'Namespace', 'status.grant is the accepted grant');
  });

  it('a refused change is decided again when the author gains the rights (RBAC changes)', async () => {
    const name = 'later';
    await applyAs('tina', [profile(name, { auth: 'ServiceAccount', permissions: { rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }] } })]);
    await expectRefused(name, 'tina', /they lack "get configmaps in namespace/);
    const fm = { fieldManager: 'apiaccess-test', force: true };
    await admin.apply({ apiVersion: RBAC, kind: 'Role', metadata: { name: 'tina-configmaps', namespace: ns }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }] }, fm);
    await admin.apply({ apiVersion: RBAC, kind: 'RoleBinding', metadata: { name: 'tina-configmaps', namespace: ns }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'tina-configmaps' }, subjects: [{ kind: 'User', name: 'tina', apiGroup: 'rbac.authorization.k8s.io' }] }, fm);
    await condition(name, 'RBACReady', 'True', 'RBACApplied');
    assert.equal(await can(sa(name), { verb: 'get', resource: 'configmaps', namespace: ns }), true);
  });

  it('a namespace admin may grant what admin holds in the namespace, and nothing at Cluster scope', async () => {
    await applyAs('nadia', [profile('n-view', { auth: 'ServiceAccount', permissions: { clusterRoles: ['view'] } })]);
    await condition('n-view', 'RBACReady', 'True', 'RBACApplied');
    assert.equal(await can(sa('n-view'), { verb: 'list', resource: 'configmaps', namespace: ns }), true);
    await applyAs('nadia', [profile('n-secrets', { auth: 'ServiceAccount', permissions: { rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }] } })]);
    await condition('n-secrets', 'RBACReady', 'True', 'RBACApplied');

    const mark = await auditMark();
    await applyAs('nadia', [profile('n-cluster', { auth: 'ServiceAccount', permissions: { scope: 'Cluster', clusterRoles: ['view'] } })]);
    await expectRefused('n-cluster', 'nadia', /ClusterRole view: they lack "[^"]+ cluster-wide"/);
    await applyAs('nadia', [profile('n-nodes', { auth: 'ServiceAccount', permissions: { rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['list'] }] } })]);
    await expectRefused('n-nodes', 'nadia', /they lack "list nodes in namespace/);
    await applyAs('nadia', [profile('n-admin-role', { auth: 'ServiceAccount', permissions: { clusterRoles: ['cluster-admin'] } })]);
    await expectRefused('n-admin-role', 'nadia', /ClusterRole cluster-admin/);
    assert.equal(await can(sa('n-cluster'), { verb: 'list', resource: 'configmaps', namespace: 'kube-system' }), false);
    assert.deepEqual([...(await rbacWritesFor(mark, 'n-cluster')), ...(await rbacWritesFor(mark, 'n-nodes')), ...(await rbacWritesFor(mark, 'n-admin-role'))], []);
  });

  it('a cluster admin may grant cluster-admin at Cluster scope', async () => {
    const name = 'c-admin';
    const [created] = await applyAs('carl', [profile(name, { auth: 'ServiceAccount', permissions: { scope: 'Cluster', clusterRoles: ['cluster-admin'] } })]);
    assert.equal(created?.spec.author.username, 'carl');
    await condition(name, 'RBACReady', 'True', 'RBACApplied');
    assert.equal(await can(sa(name), { verb: '*', group: '*', resource: '*' }), true);
    await admin.request('DELETE', profilePath(name));
    await waitFor(async () => (await admin.get(profilePath(name))) === undefined, { what: `${name} to be deleted`, timeoutMs: 60_000 });
    assert.equal(await can(sa(name), { verb: '*', group: '*', resource: '*' }), false, 'deleting the profile removed the ClusterRoleBinding');
  });

  it('a GitOps ServiceAccount is judged as itself: admin of the namespace, nothing more', async () => {
    const [created] = await applyAs('gitops', [profile('g-view', { auth: 'ServiceAccount', permissions: { clusterRoles: ['view'] } })], 'argocd-controller');
    assert.equal(created?.spec.author.username, sa('gitops', other));
    assert.ok(created?.spec.author.extra?.['authentication.kubernetes.io/credential-id'], 'extra attributes are stamped too');
    await condition('g-view', 'RBACReady', 'True', 'RBACApplied');
    await applyAs('gitops', [profile('g-cluster', { auth: 'ServiceAccount', permissions: { scope: 'Cluster', clusterRoles: ['cluster-admin'] } })], 'argocd-controller');
    await expectRefused('g-cluster', sa('gitops', other), /cluster-admin/);
    // A re-sync of the same manifest (server-side apply, spec.author not in it) keeps the author.
    const [resynced] = await applyAs('gitops', [profile('g-view', { auth: 'ServiceAccount', permissions: { clusterRoles: ['view'] } })], 'argocd-controller');
    assert.deepEqual(resynced?.spec.author, created?.spec.author);
  });

  it('a forged author is replaced on create and refused on update; a removed one is refused', async () => {
    const forged = { username: 'carl', groups: ['system:masters', 'system:authenticated'] };
    const [created] = await applyAs('tina', [profile('forged', { auth: 'ServiceAccount', author: forged, permissions: { scope: 'Cluster', clusterRoles: ['cluster-admin'] } })]);
    assert.equal(created?.spec.author.username, 'tina', 'admission replaced the forged author with the requester');
    await expectRefused('forged', 'tina', /cluster-admin/);

    const tina = clientFor(users.tina.kubeconfig);
    try {
      const live = await tina.get<Obj>(profilePath('forged'));
      const update = async (author: object | undefined): Promise<string> => {
        const body = structuredClone(live!);
        if (author === undefined) delete body.spec.author;
        else body.spec.author = author;
        return await tina.request('PUT', profilePath('forged'), { body }).then(
          () => 'accepted',
          (e: Error) => e.message,
        );
      };
      assert.match(await update(forged), /spec\.author records who last changed spec\.permissions or spec\.serviceAccount; it is set at admission and cannot be set, changed or removed by hand/);
      assert.match(await update(undefined), /cannot be set, changed or removed by hand/);
      assert.equal((await tina.get<Obj>(profilePath('forged')))?.spec.author.username, 'tina');
    } finally {
      tina.close();
    }
  });

  it('label-only updates and the operator\'s own finalizer and status writes never change the author', async () => {
    const name = 'n-view';
    const before = await admin.get<Obj>(profilePath(name));
    assert.equal(before?.spec.author.username, 'nadia');
    assert.ok(before?.metadata.finalizers?.includes('apiaccess.dev/finalizer'), 'the operator added its finalizer');
    assert.ok(before?.status?.conditions, 'the operator wrote status');
    await applyAs('tina', [{ apiVersion: 'apiaccess.dev/v1alpha1', kind: 'ApiAccessProfile', metadata: { name, namespace: ns, labels: { team: 'tina' } } }], 'tina-labels');
    const after = await admin.get<Obj>(profilePath(name));
    assert.equal(after?.metadata.labels?.team, 'tina');
    assert.deepEqual(after?.spec.author, before?.spec.author);
    assert.equal(after?.metadata.generation, before?.metadata.generation);
    await condition(name, 'RBACReady', 'True', 'RBACApplied');
  });

  it('a refused ServiceAccount change keeps the workloads on the accepted ServiceAccount', async () => {
    const name = 'sa-move';
    await applyAs('nadia', [profile(name, { auth: 'ServiceAccount', permissions: { rules: [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get'] }] } })]);
    await condition(name, 'RBACReady', 'True', 'RBACApplied');
    await applyAs('tina', [profile(name, { auth: 'ServiceAccount', serviceAccount: { name: 'elsewhere' }, permissions: { rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }] } })]);
    await expectRefused(name, 'tina', /secrets/);
    const p = await admin.get<Obj>(profilePath(name));
    assert.equal(p?.status?.serviceAccountName, name, 'status names the ServiceAccount of the grant in force');
    assert.equal(await admin.get(`/api/v1/namespaces/${ns}/serviceaccounts/elsewhere`), undefined, 'the refused ServiceAccount was not created');
  });
});
