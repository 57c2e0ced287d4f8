import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { profile } from '../desired/fixtures.ts';
import { accessChecks, declaredChecks, identityFor } from './access-verification.ts';

const scopeOf = (group: string, resource: string): 'Cluster' | 'Namespaced' | undefined =>
  group === '' && resource === 'nodes' ? 'Cluster' : group === '' && resource === 'pods' ? 'Namespaced' : undefined;

describe('accessChecks', () => {
  it('GIVEN Namespace scope WHEN a rule names a cluster-scoped resource THEN it is asked without a namespace, as the real request is', () => {
    const checks = accessChecks([{ apiGroups: [''], resources: ['pods', 'nodes'], verbs: ['list'] }], 'team-a', scopeOf);
    assert.deepEqual(checks, [
      { verb: 'list', group: '', resource: 'pods', namespace: 'team-a' },
      { verb: 'list', group: '', resource: 'nodes' },
    ]);
  });

  it('GIVEN a resource discovery does not know THEN it is asked in the namespace', () => {
    assert.deepEqual(accessChecks([{ apiGroups: ['example.com'], resources: ['widgets/status'], verbs: ['get'] }], 'team-a', scopeOf), [
      { verb: 'get', group: 'example.com', resource: 'widgets', subresource: 'status', namespace: 'team-a' },
    ]);
  });
});

describe('declaredChecks', () => {
  it('GIVEN a referenced ClusterRole (view) bound at Namespace scope THEN its cluster-scoped resources are left out by name, an inline one is asked', () => {
    const view = [{ apiGroups: [''], resources: ['pods', 'nodes'], verbs: ['get'] }, { nonResourceURLs: ['/healthz'], verbs: ['get'] }];
    const { checks, outOfScope } = declaredChecks([{ apiGroups: [''], resources: ['nodes'], verbs: ['list'] }], view, 'team-a', scopeOf);
    assert.deepEqual(checks, [
      { verb: 'list', group: '', resource: 'nodes' },
      { verb: 'get', group: '', resource: 'pods', namespace: 'team-a' },
    ]);
    assert.deepEqual(outOfScope, ['nodes', '/healthz']);
  });

  it('GIVEN Cluster scope THEN every rule of a referenced ClusterRole is asked', () => {
    const { checks, outOfScope } = declaredChecks([], [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }], undefined, scopeOf);
    assert.deepEqual(checks, [{ verb: 'get', group: '', resource: 'nodes' }]);
    assert.deepEqual(outOfScope, []);
  });
});

describe('identityFor', () => {
  const p = profile({ auth: 'Kubeconfig', kubeconfig: { source: 'Secret', name: 'agent-kubeconfig' } });

  it('GIVEN a Secret source THEN the identity is not inspected (never the ServiceAccount in its place)', () => {
    const id = identityFor(p, { source: 'Secret', name: 'agent-kubeconfig' });
    assert.ok('notInspected' in id);
    assert.match(id.notInspected, /Secret agent-kubeconfig/);
  });

  it('GIVEN a ConfigMap kubeconfig with an opaque token, a token file or an exec plugin THEN it is not inspected', () => {
    for (const identity of [{ kind: 'Token' as const }, { kind: 'Unknown' as const, detail: 'credential from an exec plugin' }]) {
      const id = identityFor(p, { source: 'ConfigMap', name: 'kc', key: 'kubeconfig', found: true, inspection: { ok: true, server: 'https://x', user: 'u', credentials: [], identity } });
      assert.ok('notInspected' in id, JSON.stringify(identity));
    }
  });

  it('GIVEN a ConfigMap kubeconfig with a client certificate THEN its subject is the identity', () => {
    const id = identityFor(p, {
      source: 'ConfigMap',
      name: 'kc',
      key: 'kubeconfig',
      found: true,
      inspection: { ok: true, server: 'https://x', user: 'u', credentials: [], identity: { kind: 'ClientCertificate', username: 'agent', groups: ['ops'] } },
    });
    assert.deepEqual(id, { user: 'agent', groups: ['ops', 'system:authenticated'], source: 'the client certificate in ConfigMap kc' });
  });

  it('GIVEN a Generated kubeconfig THEN the profile\'s ServiceAccount is the identity', () => {
    const id = identityFor(profile({ auth: 'Kubeconfig' }, { name: 'agent', namespace: 'team-a' }), { source: 'Generated', configMap: 'agent-kubeconfig' });
    assert.ok('user' in id && id.user === 'system:serviceaccount:team-a:agent');
  });
});
