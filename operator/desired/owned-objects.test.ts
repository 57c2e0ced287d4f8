import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { profile } from './fixtures.ts';
import { desiredObjects } from './owned-objects.ts';

const pods = { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] };
const names = (spec: Parameters<typeof profile>[0]): string[] => desiredObjects(profile(spec)).map((o) => `${o.kind}/${o.metadata.name}`);

describe('desired objects of a profile', () => {
  it('GIVEN Namespace scope with rules, a ClusterRole and a generated kubeconfig WHEN listed THEN ServiceAccount, Role, RoleBindings, ConfigMap in that order', () => {
    assert.deepEqual(names({ auth: 'Kubeconfig', permissions: { rules: [pods], clusterRoles: ['view'] } }), [
      'ServiceAccount/agent',
      'Role/apiaccess:agent',
      'RoleBinding/apiaccess:agent',
      'RoleBinding/apiaccess:agent:view',
      'ConfigMap/apiaccess-agent-kubeconfig',
    ]);
  });

  it('GIVEN Cluster scope WHEN listed THEN the ClusterRole comes before its ClusterRoleBindings and neither has a namespace', () => {
    const objects = desiredObjects(profile({ auth: 'ServiceAccount', permissions: { scope: 'Cluster', rules: [pods], clusterRoles: ['view'] } }));
    assert.deepEqual(
      objects.map((o) => [o.kind, o.metadata.name, o.metadata.namespace]),
      [
        ['ServiceAccount', 'agent', 'team-a'],
        ['ClusterRole', 'apiaccess:team-a:agent', undefined],
        ['ClusterRoleBinding', 'apiaccess:team-a:agent', undefined],
        ['ClusterRoleBinding', 'apiaccess:team-a:agent:view', undefined],
      ],
    );
  });

  it('GIVEN an existing ServiceAccount and a user-provided kubeconfig WHEN listed THEN neither is among the objects', () => {
    assert.deepEqual(names({ auth: 'Kubeconfig', serviceAccount: { name: 'legacy', create: false }, kubeconfig: { source: 'ConfigMap', name: 'kip' } }), []);
    assert.deepEqual(names({ auth: 'Kubeconfig', serviceAccount: { create: false }, kubeconfig: { source: 'Secret', name: 'kip' }, permissions: { clusterRoles: ['view'] } }), [
      'RoleBinding/apiaccess:agent:view',
    ]);
  });

  it('GIVEN a profile with a uid WHEN listed THEN every object is plain data with apiVersion, kind and the profile labels, owned when namespaced', () => {
    const objects = desiredObjects(profile({ auth: 'Kubeconfig', permissions: { scope: 'Cluster', rules: [pods] } }, { uid: 'u-1' }));
    assert.deepEqual(JSON.parse(JSON.stringify(objects)), objects);
    for (const o of objects) {
      assert.match(o.apiVersion, /^(v1|rbac\.authorization\.k8s\.io\/v1)$/);
      assert.equal(o.metadata.labels['apiaccess.dev/profile-name'], 'agent');
      assert.equal(o.metadata.ownerReferences?.[0]?.uid, o.metadata.namespace === undefined ? undefined : 'u-1', `${o.kind} ownership`);
    }
  });
});
