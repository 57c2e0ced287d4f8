// What doctor --pod says when one of its own requests fails: the missing right as a Role rule,
// admission's refusals as admission's, a missing Pod as missing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { explainPodError } from './pod-errors.ts';

describe('doctor --pod request failures', () => {
  it('GIVEN RBAC denies the patch of pods/ephemeralcontainers THEN the message names the right and the rule to grant', () => {
    const message = 'PATCH /api/v1/namespaces/team-a/pods/web-1/ephemeralcontainers: pods "web-1" is forbidden: User "alice" cannot patch resource "pods/ephemeralcontainers" in API group "" in the namespace "team-a"';
    assert.equal(
      explainPodError('add-container', { status: 403, reason: 'Forbidden', message }, 'team-a', 'web-1'),
      'may not patch pods/ephemeralcontainers in namespace team-a: pods "web-1" is forbidden: User "alice" cannot patch resource "pods/ephemeralcontainers" in API group "" in the namespace "team-a"; grant a Role rule {apiGroups: [""], resources: ["pods/ephemeralcontainers"], verbs: ["patch"]} in team-a (doctor --pod needs get on pods, patch on pods/ephemeralcontainers and get on pods/log)',
    );
  });

  it('GIVEN admission refuses the container THEN that is what is said, not a missing right', () => {
    const message = 'PATCH /x: pods "web-1" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true';
    assert.match(explainPodError('add-container', { status: 403, reason: 'Forbidden', message }, 'team-a', 'web-1'), /^admission refused the ephemeral container in Pod team-a\/web-1: pods "web-1" is forbidden: violates PodSecurity/);
  });

  it('GIVEN a missing Pod, a log RBAC denial, an invalid container THEN each is named', () => {
    assert.match(explainPodError('read-pod', { status: 404, reason: 'NotFound', message: 'GET /x: pods "web-2" not found' }, 'team-a', 'web-2'), /^Pod team-a\/web-2 not found/);
    assert.match(explainPodError('read-logs', { status: 403, reason: 'Forbidden', message: 'GET /x: User "bob" cannot get resource "pods/log" in API group ""' }, 'team-a', 'web-1'), /^may not get pods\/log in namespace team-a: .*resources: \["pods\/log"\], verbs: \["get"\]/);
    assert.match(explainPodError('add-container', { status: 422, reason: 'Invalid', message: 'PATCH /x: spec.ephemeralContainers[0].volumeMounts[0].subPath: Forbidden' }, 'team-a', 'web-1'), /^the API server rejected the ephemeral container for Pod team-a\/web-1: spec\.ephemeralContainers/);
  });
});
