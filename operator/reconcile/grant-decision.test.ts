import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyRule } from '../../crds/apiaccessprofile.ts';
import { describeCheck, type AccessCheck } from './access-verification.ts';
import { checkPlan, judge, MAX_AUTHOR_CHECKS, sameGrant, type GrantRequest } from './grant-decision.ts';

const grant = (permissions: Partial<GrantRequest['permissions']>, sa = 'agent'): GrantRequest => ({
  serviceAccount: { name: sa, create: true },
  permissions: { scope: 'Namespace', rules: [], clusterRoles: [], ...permissions },
});
const VIEW: PolicyRule[] = [{ apiGroups: [''], resources: ['pods', 'services'], verbs: ['get', 'list'] }];
const roles = new Map<string, PolicyRule[] | undefined>([['view', VIEW], ['missing', undefined]]);

/** A review that allows exactly the described checks it is given, and records every question. */
function reviewer(allowed: readonly string[]): { asked: string[]; review: (c: AccessCheck) => Promise<{ allowed: boolean }> } {
  const asked: string[] = [];
  return { asked, review: async (c) => (asked.push(describeCheck(c)), { allowed: allowed.includes(describeCheck(c)) }) };
}

describe('who may grant what', () => {
  it('asks escalate on roles in the namespace first for inline rules, and bind on each referenced ClusterRole', () => {
    const plan = checkPlan('tenant', grant({ rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }], clusterRoles: ['view'] }), roles);
    assert.deepEqual(
      plan.map((g) => describeCheck(g.shortcut)),
      ['escalate roles.rbac.authorization.k8s.io in namespace tenant', 'bind clusterroles.rbac.authorization.k8s.io view in namespace tenant'],
    );
    assert.deepEqual(plan[1]?.checks?.map(describeCheck), ['get pods in namespace tenant', 'get services in namespace tenant', 'list pods in namespace tenant', 'list services in namespace tenant']);
  });

  it('checks cluster-wide, on clusterroles, at Cluster scope', () => {
    const plan = checkPlan('tenant', grant({ scope: 'Cluster', rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] }), roles);
    assert.equal(describeCheck(plan[0]!.shortcut), 'escalate clusterroles.rbac.authorization.k8s.io cluster-wide');
    assert.deepEqual(plan[0]?.checks?.map(describeCheck), ['* *.* cluster-wide']);
  });

  it('accepts on the shortcut alone, without asking each permission (one check instead of many)', async () => {
    const r = reviewer(['bind clusterroles.rbac.authorization.k8s.io view in namespace tenant']);
    const verdict = await judge('nadia', checkPlan('tenant', grant({ clusterRoles: ['view'] }), roles), r.review);
    assert.deepEqual(verdict, { kind: 'Accepted', author: 'nadia' });
    assert.equal(r.asked.length, 1);
  });

  it('accepts an author who holds every permission of a ClusterRole without bind', async () => {
    const r = reviewer(['get pods in namespace tenant', 'get services in namespace tenant', 'list pods in namespace tenant', 'list services in namespace tenant']);
    assert.equal((await judge('nadia', checkPlan('tenant', grant({ clusterRoles: ['view'] }), roles), r.review)).kind, 'Accepted');
  });

  it('refuses naming the author, the first permission they lack and the shortcut they lack', async () => {
    const r = reviewer(['get pods in namespace tenant']);
    const verdict = await judge('tina', checkPlan('tenant', grant({ clusterRoles: ['view'] }), roles), r.review);
    assert.equal(verdict.kind, 'Refused');
    assert.match(verdict.kind === 'Refused' ? verdict.message : '', /^tina may not grant ClusterRole view: they lack "get services in namespace tenant" and may not bind clusterroles\/view in namespace tenant$/);
    assert.equal(r.asked.at(-1), 'get services in namespace tenant', 'stops at the first permission lacking');
  });

  it('refuses binding a ClusterRole that does not exist unless the author may bind it (as Kubernetes does)', async () => {
    const verdict = await judge('tina', checkPlan('tenant', grant({ clusterRoles: ['missing'] }), roles), reviewer([]).review);
    assert.match(verdict.kind === 'Refused' ? verdict.message : '', /ClusterRole missing: it does not exist/);
    const bindable = await judge('carl', checkPlan('tenant', grant({ clusterRoles: ['missing'] }), roles), reviewer(['bind clusterroles.rbac.authorization.k8s.io missing in namespace tenant']).review);
    assert.equal(bindable.kind, 'Accepted');
  });

  it('accepts a grant of nothing without a single review', async () => {
    const r = reviewer([]);
    assert.equal((await judge('tina', checkPlan('tenant', grant({}), roles), r.review)).kind, 'Accepted');
    assert.equal(r.asked.length, 0);
  });

  it('refuses a grant too large to check one by one when no shortcut holds', async () => {
    const resources = Array.from({ length: 64 }, (_, i) => `r${i}`);
    const verbs = Array.from({ length: 32 }, (_, i) => `v${i}`);
    const huge = grant({ rules: [{ apiGroups: [''], resources, verbs }, { apiGroups: ['x'], resources, verbs }] });
    assert.ok(64 * 32 * 2 > MAX_AUTHOR_CHECKS);
    const verdict = await judge('tina', checkPlan('tenant', huge, roles), reviewer([]).review);
    assert.match(verdict.kind === 'Refused' ? verdict.message : '', /more than 2000 permissions/);
  });

  it('treats a grant equal to the one in force as nothing new, and any change of rules, scope or ServiceAccount as new', () => {
    const inForce = { author: 'alice', generation: 2, ...grant({ clusterRoles: ['view'] }) };
    assert.equal(sameGrant(inForce, grant({ clusterRoles: ['view'] })), true);
    assert.equal(sameGrant(inForce, grant({ clusterRoles: ['view'], scope: 'Cluster' })), false);
    assert.equal(sameGrant(inForce, grant({ clusterRoles: ['view'] }, 'other')), false);
    assert.equal(sameGrant(undefined, grant({})), false);
  });
});
