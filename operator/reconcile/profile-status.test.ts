import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { profileStatus, type ProfileObservation } from './profile-status.ts';

const T0 = new Date('2026-01-01T00:00:00Z');
const T1 = new Date('2026-01-01T00:05:00Z');

function observation(over: Partial<ProfileObservation> = {}): ProfileObservation {
  return {
    generation: 2,
    auth: 'Kubeconfig',
    serviceAccountName: 'agent',
    verdict: { kind: 'InForce' },
    grant: { author: 'alice', generation: 1, serviceAccount: { name: 'agent', create: true }, permissions: { scope: 'Namespace', rules: [], clusterRoles: ['view'] } },
    rbac: { serviceAccountMissing: false, serviceAccountForeign: false, missingClusterRoles: [], applyErrors: [], objects: ['Role apiaccess:agent'] },
    credentials: { source: 'Generated', configMap: 'apiaccess-agent-kubeconfig' },
    workloads: [{ ref: 'Deployment team-a/agent', state: 'bound', message: 'bound' }],
    ...over,
  };
}
const condition = (o: ProfileObservation, type: string) => profileStatus(o, undefined, T0).conditions?.find((c) => c.type === type);

describe('profile status', () => {
  it('is Ready with counts, auth and ServiceAccount when everything holds', () => {
    const s = profileStatus(observation(), undefined, T0);
    assert.equal(s.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    assert.deepEqual(s.workloads, { bound: 1, pending: 0, unsupported: 0, conflicted: 0, containerNotFound: 0, unreadable: 0, failed: 0 });
    assert.equal(s.observedGeneration, 2);
    assert.ok(s.conditions?.every((c) => c.observedGeneration === 2));
  });

  it('keeps lastTransitionTime when nothing flips and moves it when a condition flips', () => {
    const first = profileStatus(observation(), undefined, T0);
    const same = profileStatus(observation(), first, T1);
    assert.deepEqual(same, first);
    const flippedStatus = profileStatus(observation({ rbac: { ...observation().rbac, missingClusterRoles: ['view'] } }), first, T1);
    const rbac = flippedStatus.conditions?.find((c) => c.type === 'RBACReady');
    assert.equal(rbac?.lastTransitionTime, '2026-01-01T00:05:00Z');
    assert.equal(flippedStatus.conditions?.find((c) => c.type === 'CredentialsReady')?.lastTransitionTime, '2026-01-01T00:00:00Z');
  });

  it('names a missing ClusterRole in RBACReady and Ready', () => {
    const o = observation({ rbac: { ...observation().rbac, missingClusterRoles: ['monitoring-reader'] } });
    assert.equal(condition(o, 'RBACReady')?.reason, 'ClusterRoleNotFound');
    assert.match(condition(o, 'RBACReady')?.message ?? '', /ClusterRole monitoring-reader/);
    assert.match(condition(o, 'Ready')?.message ?? '', /RBACReady is False \(ClusterRoleNotFound\)/);
  });

  it('reports a malformed user kubeconfig and a credential sitting in a ConfigMap', () => {
    const malformed = observation({ credentials: { source: 'ConfigMap', name: 'kip-config', key: 'kubeconfig', found: true, inspection: { ok: false, message: 'current-context is not set' } } });
    assert.equal(condition(malformed, 'CredentialsReady')?.reason, 'KubeconfigMalformed');
    assert.match(condition(malformed, 'CredentialsReady')?.message ?? '', /ConfigMap kip-config key "kubeconfig": current-context is not set/);
    const leaky = observation({
      credentials: {
        source: 'ConfigMap',
        name: 'kip-config',
        key: 'kubeconfig',
        found: true,
        inspection: { ok: true, server: 'https://x', user: 'u', credentials: ['users[0].user.token'], identity: { kind: 'Token' } },
      },
    });
    assert.equal(condition(leaky, 'CredentialsProtected')?.status, 'False');
    assert.equal(condition(leaky, 'CredentialsProtected')?.reason, 'CredentialsInConfigMap');
    assert.equal(condition(leaky, 'Ready')?.status, 'True', 'CredentialsProtected is a warning, not part of Ready');
  });

  it('never inspects a Secret but says so', () => {
    const c = condition(observation({ credentials: { source: 'Secret', name: 'agent-kubeconfig' } }), 'CredentialsReady');
    assert.equal(c?.reason, 'SecretNotInspected');
  });

  it('counts every state of workload, each in its own counter, and names the first problem', () => {
    const o = observation({
      workloads: [
        { ref: 'Deployment team-a/a', state: 'bound', message: '' },
        { ref: 'Deployment team-a/b', state: 'conflicted', message: 'field .spec.template.spec.serviceAccountName is owned by manager "kubectl" with value "other"' },
        { ref: 'Job team-a/c', state: 'unsupported', message: 'a Job cannot change' },
        { ref: 'ReplicaSet team-a/d', state: 'pending', message: '1 Pod without the current injection' },
        { ref: 'Deployment team-a/f', state: 'containerNotFound', message: 'spec.containers names agent' },
      ],
    });
    const s = profileStatus(o, undefined, T0);
    assert.deepEqual(s.workloads, { bound: 1, pending: 1, unsupported: 1, conflicted: 1, containerNotFound: 1, unreadable: 0, failed: 0 });
    const bound = s.conditions?.find((c) => c.type === 'WorkloadsBound');
    assert.equal(bound?.reason, 'FieldConflict');
    assert.match(bound?.message ?? '', /^Deployment team-a\/b: field .*serviceAccountName/);
  });

  it('a workload whose container cannot read its kubeconfig keeps WorkloadsBound False, naming the container', () => {
    const o = observation({
      workloads: [
        { ref: 'Deployment team-a/a', state: 'bound', message: '' },
        { ref: 'Deployment team-a/e', state: 'unreadable', message: 'container agent runs as uid 65532 and cannot read /etc/kip/kubeconfig' },
      ],
    });
    const s = profileStatus(o, undefined, T0);
    const bound = s.conditions?.find((c) => c.type === 'WorkloadsBound');
    assert.equal(bound?.status, 'False');
    assert.equal(bound?.reason, 'KubeconfigUnreadable');
    assert.match(bound?.message ?? '', /^Deployment team-a\/e: container agent runs as uid 65532/);
    assert.equal(s.workloads?.bound, 1, 'an unreadable workload is not counted as bound');
  });

  it('refuses with RequesterMayNotGrant naming the author and what they lack, and says the accepted grant stays', () => {
    const o = observation({ verdict: { kind: 'Refused', author: 'mallory', message: 'mallory may not grant ClusterRole cluster-admin: they lack "* *.* cluster-wide"' } });
    const rbac = condition(o, 'RBACReady');
    assert.equal(rbac?.status, 'False');
    assert.equal(rbac?.reason, 'RequesterMayNotGrant');
    assert.match(rbac?.message ?? '', /mallory may not grant ClusterRole cluster-admin.*The grant accepted at generation 1 \(author alice\) stays in force/);
    assert.equal(condition(o, 'Ready')?.status, 'False');
    assert.deepEqual(profileStatus(o, undefined, T0).grant?.author, 'alice');
  });

  it('says nothing was granted when a refused profile never had an accepted grant', () => {
    const { grant: _none, ...rest } = observation({ verdict: { kind: 'AuthorUnknown', message: 'spec.author is not set' } });
    const rbac = condition(rest, 'RBACReady');
    assert.equal(rbac?.reason, 'AuthorUnknown');
    assert.match(rbac?.message ?? '', /spec.author is not set\. Nothing was granted/);
    assert.equal(profileStatus(rest, undefined, T0).grant, undefined);
  });

  it('a failed write says so and that it is retried, before any other workload problem', () => {
    const o = observation({
      workloads: [
        { ref: 'Deployment team-a/b', state: 'conflicted', message: 'field owned by kubectl' },
        { ref: 'Deployment team-a/g', state: 'failed', message: 'admission denied: no mounts; retrying with backoff' },
      ],
      rbac: { serviceAccountMissing: false, serviceAccountForeign: false, missingClusterRoles: [], applyErrors: ['RoleBinding apiaccess:agent: denied by policy deny-rb'], objects: [] },
    });
    const bound = condition(o, 'WorkloadsBound');
    assert.equal(bound?.reason, 'ApplyFailed');
    assert.equal(profileStatus(o, undefined, T0).workloads?.failed, 1);
    const rbac = condition(o, 'RBACReady');
    assert.equal(rbac?.reason, 'ApplyFailed');
    assert.match(rbac?.message ?? '', /denied by policy deny-rb; retrying with backoff$/);
  });

  it('an identity the operator cannot inspect (AccessVerified Unknown, NotInspected) does not keep Ready from True', () => {
    const o = observation({ access: { type: 'AccessVerified', status: 'Unknown', reason: 'NotInspected', message: 'Secret agent-kubeconfig is not read' } });
    assert.equal(condition(o, 'AccessVerified')?.status, 'Unknown');
    assert.equal(condition(o, 'Ready')?.status, 'True');
    const denied = observation({ access: { type: 'AccessVerified', status: 'False', reason: 'AccessDenied', message: 'may not list nodes' } });
    assert.equal(condition(denied, 'Ready')?.status, 'False');
  });

  it('names the author of the grant in force when RBAC is applied', () => {
    assert.match(condition(observation(), 'RBACReady')?.message ?? '', /granted by alice$/);
  });
});
