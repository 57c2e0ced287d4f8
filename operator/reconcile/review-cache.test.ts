import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../kube/client.ts';
import { serviceAccountIdentity, type AccessCheck, type Identity } from './access-verification.ts';
import { namesIdentity, rbacState, ReviewCache, SETTLE_MS, type BindingObject, type RbacView } from './review-cache.ts';

const sa = serviceAccountIdentity('team-a', 'agent');
const listPods: AccessCheck = { verb: 'list', group: '', resource: 'pods', namespace: 'team-a' };

function binding(kind: 'RoleBinding' | 'ClusterRoleBinding', name: string, rv: string, subjects: BindingObject['subjects'], role = 'view'): BindingObject {
  return {
    metadata: { name, resourceVersion: rv, ...(kind === 'RoleBinding' ? { namespace: 'team-a' } : {}) },
    subjects,
    roleRef: { kind: 'ClusterRole', name: role },
  };
}

/** An RBAC view the test edits, and an authorizer that answers from a set and counts its questions. */
function world() {
  const crbs: BindingObject[] = [];
  const rbs: BindingObject[] = [];
  const roles = new Map<string, KubeObject>([['view', { metadata: { name: 'view', resourceVersion: '1' } }]]);
  const view: RbacView = { clusterRoleBindings: () => crbs, roleBindings: () => rbs, role: (_k, _ns, name) => roles.get(name) };
  const allowed = new Set<string>();
  let asked = 0;
  const ask = async (_who: Identity, check: AccessCheck) => {
    asked += 1;
    return { allowed: allowed.has(check.verb) };
  };
  let clock = 100_000;
  const cache = new ReviewCache(view, ask, () => clock);
  return { crbs, rbs, roles, view, allowed, cache, asked: () => asked, advance: (ms: number) => (clock += ms) };
}

describe('namesIdentity', () => {
  it('GIVEN binding subjects THEN a ServiceAccount matches by namespace (defaulting to the binding\'s), users and groups by name', () => {
    assert.equal(namesIdentity({ kind: 'ServiceAccount', name: 'agent', namespace: 'team-a' }, undefined, sa), true);
    assert.equal(namesIdentity({ kind: 'ServiceAccount', name: 'agent' }, 'team-a', sa), true);
    assert.equal(namesIdentity({ kind: 'ServiceAccount', name: 'agent', namespace: 'team-b' }, undefined, sa), false);
    assert.equal(namesIdentity({ kind: 'Group', name: 'system:serviceaccounts' }, undefined, sa), true);
    assert.equal(namesIdentity({ kind: 'User', name: 'alice' }, undefined, sa), false);
    assert.equal(namesIdentity({ kind: 'User', name: 'alice' }, undefined, { user: 'alice', groups: [] }), true);
  });
});

describe('rbacState', () => {
  it('GIVEN bindings THEN only those naming the identity, and the roles they reference, change its state', () => {
    const w = world();
    const empty = rbacState(w.view, sa);
    w.crbs.push(binding('ClusterRoleBinding', 'other', '5', [{ kind: 'User', name: 'bob' }]));
    assert.equal(rbacState(w.view, sa), empty, 'a binding for someone else');
    w.rbs.push(binding('RoleBinding', 'agent', '6', [{ kind: 'ServiceAccount', name: 'agent', namespace: 'team-a' }]));
    const bound = rbacState(w.view, sa);
    assert.notEqual(bound, empty, 'a binding naming the ServiceAccount');
    w.roles.set('view', { metadata: { name: 'view', resourceVersion: '2' } });
    assert.notEqual(rbacState(w.view, sa), bound, 'the referenced role changed');
    w.roles.set('edit', { metadata: { name: 'edit', resourceVersion: '9' } });
    assert.equal(rbacState(w.view, sa), rbacState(w.view, sa));
  });
});

describe('ReviewCache', () => {
  it('GIVEN an unchanged RBAC state THEN a question is asked once; a change of the identity\'s bindings asks again, an unrelated one does not', async () => {
    const w = world();
    w.allowed.add('list');
    w.advance(SETTLE_MS);
    for (let i = 0; i < 3; i++) assert.deepEqual(await w.cache.reviewer().review(sa, listPods), { allowed: true });
    assert.equal(w.asked(), 1);
    w.crbs.push(binding('ClusterRoleBinding', 'unrelated', '7', [{ kind: 'User', name: 'bob' }]));
    await w.cache.reviewer().review(sa, listPods);
    assert.equal(w.asked(), 1, 'a binding of another user');
    w.crbs.push(binding('ClusterRoleBinding', 'all-sa', '8', [{ kind: 'Group', name: 'system:serviceaccounts' }]));
    await w.cache.reviewer().review(sa, listPods);
    assert.equal(w.asked(), 2, 'a binding of one of its groups');
  });

  it('GIVEN a denial within SETTLE_MS of a state change THEN it is not kept and the reviewer says unsettled; after SETTLE_MS it is kept', async () => {
    const w = world();
    const first = w.cache.reviewer();
    assert.equal((await first.review(sa, listPods)).allowed, false);
    assert.equal(first.unsettled(), true);
    await w.cache.reviewer().review(sa, listPods);
    assert.equal(w.asked(), 2, 'the young denial was asked again');
    w.advance(SETTLE_MS);
    const later = w.cache.reviewer();
    await later.review(sa, listPods);
    await later.review(sa, listPods);
    assert.equal(later.unsettled(), false);
    assert.equal(w.asked(), 3, 'a settled denial is kept');
  });
});
