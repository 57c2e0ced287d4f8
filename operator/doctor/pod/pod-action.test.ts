// What doctor --pod forwards into the Pod: --can pairs and an explicit namespace, never --kubeconfig.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forwardedArgs } from './pod-action.ts';

describe('doctor --pod forwarded flags', () => {
  it('GIVEN --can pairs (as commander hands them over) and -n THEN they become the in-Pod doctor\'s flags', () => {
    assert.deepEqual(forwardedArgs({ can: ['list', 'pods', 'get deployments.apps'], namespace: 'team-a' }), ['--can', 'list', 'pods', '--can', 'get', 'deployments.apps', '--namespace', 'team-a']);
    assert.deepEqual(forwardedArgs({}), []);
  });
});
