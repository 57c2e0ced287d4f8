import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff, backoffCeiling, fullJitterDelay, sleep } from './backoff.ts';

describe('backoff', () => {
  const options = { initialMs: 100, maxMs: 1000 };

  it('doubles the ceiling per failure up to the maximum', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 60].map((n) => backoffCeiling(n, options)), [100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it('draws a full-jitter delay uniformly below the ceiling', () => {
    assert.equal(fullJitterDelay(2, options, () => 0), 0);
    assert.equal(fullJitterDelay(2, options, () => 0.5), 200);
    assert.equal(fullJitterDelay(2, options, () => 0.999999), 399);
    const delays = Array.from({ length: 2000 }, () => fullJitterDelay(3, options));
    assert.ok(delays.every((d) => d >= 0 && d < 800));
    // Spread over the whole range, not bunched near the ceiling.
    assert.ok(delays.some((d) => d < 200) && delays.some((d) => d > 600));
  });

  it('counts consecutive failures and starts over after reset', () => {
    const backoff = new Backoff(options, () => 1);
    assert.deepEqual([backoff.next(), backoff.next(), backoff.next()], [100, 200, 400]);
    assert.equal(backoff.attempts, 3);
    backoff.reset();
    assert.equal(backoff.next(), 100);
  });

  it('rejects options that would never back off', () => {
    assert.throws(() => new Backoff({ initialMs: 0, maxMs: 10 }), /initialMs 0/);
    assert.throws(() => new Backoff({ initialMs: 100, maxMs: 10 }), /maxMs 10/);
  });

  it('sleeps the full delay, or returns false as soon as the signal aborts', async () => {
    let started = Date.now();
    assert.equal(await sleep(30), true);
    assert.ok(Date.now() - started >= 25);

    const controller = new AbortController();
    started = Date.now();
    setTimeout(() => controller.abort(), 20);
    assert.equal(await sleep(10_000, controller.signal), false);
    assert.ok(Date.now() - started < 1000);
    assert.equal(await sleep(10_000, controller.signal), false);
  });
});
