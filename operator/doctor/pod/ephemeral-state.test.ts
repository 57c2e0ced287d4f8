// Where the ephemeral doctor container is, read from Pod statuses as the kubelet writes them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1ContainerState, V1Pod } from '@kubernetes/client-node';
import { ephemeralState, podNotRunning } from './ephemeral-state.ts';

const NAME = 'apiaccess-doctor-abcde';

function pod(state: V1ContainerState | undefined, phase = 'Running'): V1Pod {
  return { metadata: { name: 'web-1', namespace: 'team-a' }, status: { phase, ...(state ? { ephemeralContainerStatuses: [{ name: NAME, image: 'i', imageID: '', ready: false, restartCount: 0, state }] } : {}) } };
}

describe('ephemeral container state', () => {
  const cases: Array<[string, V1Pod, ReturnType<typeof ephemeralState>]> = [
    ['no status yet', pod(undefined), { phase: 'starting' }],
    ['ContainerCreating', pod({ waiting: { reason: 'ContainerCreating' } }), { phase: 'starting', reason: 'ContainerCreating' }],
    ['an image the node cannot pull', pod({ waiting: { reason: 'ErrImageNeverPull', message: 'Container image "x" is not present with pull policy of Never' } }), { phase: 'stuck', reason: 'ErrImageNeverPull', message: 'Container image "x" is not present with pull policy of Never' }],
    ['ImagePullBackOff', pod({ waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "x"' } }), { phase: 'stuck', reason: 'ImagePullBackOff', message: 'Back-off pulling image "x"' }],
    ['running', pod({ running: { startedAt: new Date() } }), { phase: 'running' }],
    ['terminated', pod({ terminated: { exitCode: 1, reason: 'Error' } }), { phase: 'terminated', exitCode: 1, reason: 'Error', message: '' }],
    ['a Pod that finished', pod(undefined, 'Succeeded'), { phase: 'pod-gone', why: 'finished (Succeeded)' }],
  ];
  for (const [what, given, expected] of cases) {
    it(`GIVEN ${what} THEN ${expected.phase}`, () => assert.deepEqual(ephemeralState(given, NAME), expected));
  }

  it('GIVEN a Pod that is not running THEN adding an ephemeral container is refused with the reason', () => {
    assert.equal(podNotRunning(pod(undefined)), undefined);
    assert.match(podNotRunning(pod(undefined, 'Pending')) ?? '', /is Pending .*runs only in a running Pod/);
    assert.match(podNotRunning(pod(undefined, 'Failed')) ?? '', /is Failed/);
  });
});
