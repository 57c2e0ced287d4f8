import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterInfo } from './cluster-info.ts';
import { hasClientLimit, parseUpFlags } from './local.ts';

describe('npm run cluster -- up flags', () => {
  it('starts a node with the controller manager defaults when no flag is given', () => {
    assert.deepEqual(parseUpFlags([]), { node: true });
  });

  it('takes --no-node and the controller manager client limit together', () => {
    assert.deepEqual(parseUpFlags(['--no-node', '--controller-manager-qps=300', '--controller-manager-burst=600']), {
      node: false,
      controllerManagerClient: { qps: 300, burst: 600 },
    });
  });

  it('names a limit that is not a positive integer', () => {
    assert.deepEqual(parseUpFlags(['--controller-manager-qps=0', '--controller-manager-burst=1']), { error: '--controller-manager-qps=0: expected a positive integer, got "0"' });
  });

  it('refuses a qps without a burst, and unknown flags', () => {
    assert.match((parseUpFlags(['--controller-manager-qps=300']) as { error: string }).error, /go together/);
    assert.deepEqual(parseUpFlags(['--node']), { error: 'unknown flag "--node"' });
  });
});

describe('reusing a running cluster', () => {
  const info = (limit?: { qps: number; burst: number }): ClusterInfo => ({ ...(limit ? { controllerManagerClient: limit } : {}) }) as ClusterInfo;

  it('matches the limit it was started with, and the defaults only a cluster started without one', () => {
    assert.equal(hasClientLimit(info({ qps: 300, burst: 600 }), { qps: 300, burst: 600 }), true);
    assert.equal(hasClientLimit(info({ qps: 300, burst: 600 }), { qps: 300, burst: 400 }), false);
    assert.equal(hasClientLimit(info(), undefined), true);
    assert.equal(hasClientLimit(info(), { qps: 20, burst: 30 }), false);
  });
});
