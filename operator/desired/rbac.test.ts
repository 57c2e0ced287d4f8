import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { profile } from './fixtures.ts';
import { desiredRbac } from './rbac.ts';

const pods = { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] };
const sa = [{ kind: 'ServiceAccount', name: 'agent', namespace: 'team-a' }];

describe('desired ServiceAccount and RBAC', () => {
  it('Namespace scope: a Role with the inline rules and a RoleBinding to the ServiceAccount', () => {
    const rbac = desiredRbac(profile({ auth: 'ServiceAccount', permissions: { rules: [pods] } }));
    assert.equal(rbac.serviceAccount?.metadata?.name, 'agent');
    assert.deepEqual(rbac.roles.map((r) => [r.metadata?.name, r.metadata?.namespace, r.rules]), [['apiaccess:agent', 'team-a', [pods]]]);
    assert.deepEqual(rbac.roleBindings.map((b) => [b.metadata?.name, b.roleRef, b.subjects]), [
      ['apiaccess:agent', { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'apiaccess:agent' }, sa],
    ]);
    assert.deepEqual([rbac.clusterRoles, rbac.clusterRoleBindings], [[], []]);
  });

  it('Namespace scope with clusterRoles: one RoleBinding per referenced ClusterRole, no Role without rules', () => {
    const rbac = desiredRbac(profile({ auth: 'ServiceAccount', permissions: { clusterRoles: ['view', 'edit', 'view'] } }));
    assert.deepEqual(rbac.roles, []);
    assert.deepEqual(rbac.roleBindings.map((b) => [b.metadata?.name, b.roleRef.kind, b.roleRef.name]), [
      ['apiaccess:agent:view', 'ClusterRole', 'view'],
      ['apiaccess:agent:edit', 'ClusterRole', 'edit'],
    ]);
  });

  it('Cluster scope: a ClusterRole and ClusterRoleBindings named with the namespace, labelled, without a namespace', () => {
    const rbac = desiredRbac(
      profile({ auth: 'ServiceAccount', permissions: { scope: 'Cluster', rules: [{ nonResourceURLs: ['/version'], verbs: ['get'] }], clusterRoles: ['view'] } }),
    );
    assert.deepEqual(rbac.roles, []);
    assert.deepEqual(rbac.roleBindings, []);
    assert.deepEqual(rbac.clusterRoles.map((r) => [r.metadata?.name, r.metadata?.namespace, r.rules]), [
      ['apiaccess:team-a:agent', undefined, [{ nonResourceURLs: ['/version'], verbs: ['get'] }]],
    ]);
    assert.deepEqual(rbac.clusterRoleBindings.map((b) => [b.metadata?.name, b.roleRef.name, b.subjects]), [
      ['apiaccess:team-a:agent', 'apiaccess:team-a:agent', sa],
      ['apiaccess:team-a:agent:view', 'view', sa],
    ]);
    assert.deepEqual(rbac.clusterRoles[0]?.metadata?.labels, {
      'app.kubernetes.io/managed-by': 'apiaccess-operator',
      'apiaccess.dev/profile-name': 'agent',
      'apiaccess.dev/profile-namespace': 'team-a',
    });
  });

  it('an existing ServiceAccount (create: false) is bound but not rendered', () => {
    const rbac = desiredRbac(profile({ auth: 'ServiceAccount', serviceAccount: { name: 'legacy', create: false }, permissions: { rules: [pods] } }));
    assert.equal(rbac.serviceAccount, undefined);
    assert.deepEqual(rbac.roleBindings[0]?.subjects, [{ kind: 'ServiceAccount', name: 'legacy', namespace: 'team-a' }]);
  });

  it('namespaced objects are owned by the profile when its uid is known; cluster-scoped ones never are', () => {
    const rbac = desiredRbac(profile({ auth: 'ServiceAccount', permissions: { scope: 'Cluster', rules: [pods] } }, { uid: 'u-1' }));
    assert.deepEqual(rbac.serviceAccount?.metadata?.ownerReferences, [
      { apiVersion: 'apiaccess.dev/v1alpha1', kind: 'ApiAccessProfile', name: 'agent', uid: 'u-1', controller: true, blockOwnerDeletion: true },
    ]);
    assert.equal(rbac.clusterRoles[0]?.metadata?.ownerReferences, undefined);
  });
});
