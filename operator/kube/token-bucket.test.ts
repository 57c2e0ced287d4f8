import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenBucket } from './token-bucket.ts';

describe('token bucket', () => {
  const clock = (): { now: () => number; advance: (ms: number) => void } => {
    let t = 0;
    return { now: () => t, advance: (ms) => void (t += ms) };
  };

  it('GIVEN a full bucket THEN burst requests go at once and each later one waits 1/qps more', () => {
    const { now } = clock();
    const bucket = new TokenBucket({ qps: 20, burst: 3 }, now);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => bucket.reserve()), [0, 0, 0, 50, 100, 150]);
  });

  it('GIVEN an idle period THEN the bucket refills at qps, but never beyond burst', () => {
    const { now, advance } = clock();
    const bucket = new TokenBucket({ qps: 10, burst: 2 }, now);
    bucket.reserve();
    bucket.reserve();
    advance(100);
    assert.equal(bucket.reserve(), 0, 'one token refilled after 1/qps');
    assert.equal(bucket.reserve(), 100);
    advance(60_000);
    assert.deepEqual([bucket.reserve(), bucket.reserve(), bucket.reserve()], [0, 0, 100]);
  });

  it('GIVEN a waiter that gives up THEN its token goes back to the next one', async () => {
    const { now } = clock();
    const bucket = new TokenBucket({ qps: 1, burst: 1 }, now);
    bucket.reserve();
    const abort = new AbortController();
    const waiting = bucket.take(abort.signal);
    abort.abort(new Error('stopped'));
    await assert.rejects(waiting, /stopped/);
    assert.equal(bucket.reserve(), 1000, 'waits for one token, not two');
  });

  it('rejects a rate that would never let a request through, naming the value', () => {
    assert.throws(() => new TokenBucket({ qps: 0, burst: 1 }), /qps 0/);
    assert.throws(() => new TokenBucket({ qps: 5, burst: 0.5 }), /burst 0.5/);
  });
});
