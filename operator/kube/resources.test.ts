import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RESOURCES, collectionPath, objectPath, resourceFor } from './resources.ts';

describe('resources', () => {
  const cases: Array<[string, string, string]> = [
    ['core namespaced collection', collectionPath(RESOURCES.ConfigMap, 'ns1'), '/api/v1/namespaces/ns1/configmaps'],
    ['core all-namespaces collection', collectionPath(RESOURCES.Pod), '/api/v1/pods'],
    ['core cluster-scoped object', objectPath(RESOURCES.Namespace, undefined, 'ns1'), '/api/v1/namespaces/ns1'],
    ['group namespaced object', objectPath(RESOURCES.Deployment, 'ns1', 'web'), '/apis/apps/v1/namespaces/ns1/deployments/web'],
    ['group cluster-scoped object ignores a namespace', objectPath(RESOURCES.ClusterRole, 'ns1', 'view'), '/apis/rbac.authorization.k8s.io/v1/clusterroles/view'],
    ['RBAC name with a colon', objectPath(RESOURCES.ClusterRole, undefined, 'system:aggregate-to-view'), '/apis/rbac.authorization.k8s.io/v1/clusterroles/system:aggregate-to-view'],
    ['custom resource status', objectPath(RESOURCES.ApiAccessProfile, 'ns1', 'p', 'status'), '/apis/apiaccess.dev/v1alpha1/namespaces/ns1/apiaccessprofiles/p/status'],
    ['lease', objectPath(RESOURCES.Lease, 'kube-system', 'op'), '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/op'],
    ['subject access review', collectionPath(RESOURCES.SubjectAccessReview), '/apis/authorization.k8s.io/v1/subjectaccessreviews'],
    ['CRD', objectPath(RESOURCES.CustomResourceDefinition, undefined, 'apiaccessprofiles.apiaccess.dev'), '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/apiaccessprofiles.apiaccess.dev'],
  ];
  for (const [name, actual, expected] of cases) {
    it(`builds the path of a ${name}`, () => assert.equal(actual, expected));
  }

  it('finds a resource by apiVersion and kind', () => {
    assert.equal(resourceFor('v1', 'ServiceAccount'), RESOURCES.ServiceAccount);
    assert.equal(resourceFor('batch/v1', 'CronJob').plural, 'cronjobs');
    assert.deepEqual(resourceFor('apiaccess.dev/v1alpha1', 'ApiAccessProfile'), {
      group: 'apiaccess.dev', version: 'v1alpha1', plural: 'apiaccessprofiles', kind: 'ApiAccessProfile', namespaced: true,
    });
  });

  it('names the kind when it is unknown or served under another apiVersion', () => {
    assert.throws(() => resourceFor('v1', 'Node'), /Unknown resource kind Node \(apiVersion v1\)/);
    assert.throws(() => resourceFor('apps/v1beta1', 'Deployment'), /Deployment is served as apps\/v1/);
    assert.throws(() => resourceFor('v1', 'toString'), /Unknown resource kind toString/);
  });

  it('refuses a namespaced object without namespace and names that escape the path', () => {
    assert.throws(() => objectPath(RESOURCES.ConfigMap, undefined, 'x'), /ConfigMap x is namespaced/);
    assert.throws(() => objectPath(RESOURCES.ConfigMap, 'ns', 'a/b'), /Invalid name "a\/b"/);
    assert.throws(() => objectPath(RESOURCES.ConfigMap, 'ns', '..'), /Invalid name/);
    assert.throws(() => collectionPath(RESOURCES.ConfigMap, '../x'), /Invalid namespace/);
  });
});
