import assert from 'node:assert/strict';
import { setTimeout as wait } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { WorkQueue, type ReconcileResult } from './queue.ts';
import { captureLogger, deferred } from './test-support.ts';

type Handler = (key: string) => Promise<ReconcileResult | void>;

function queue(handler: Handler, options: { concurrency?: number; backoff?: { initialMs: number; maxMs: number }; random?: () => number } = {}): WorkQueue {
  return new WorkQueue({ name: 'test', concurrency: options.concurrency ?? 1, handler, logger: captureLogger('silent').logger, ...options });
}

async function until(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('Timed out waiting for the queue');
    await wait(2);
  }
}

describe('WorkQueue', () => {
  it('GIVEN a key added three times before start WHEN started THEN it is processed once', async () => {
    const seen: string[] = [];
    const q = queue(async (key) => void seen.push(key));
    q.add('a');
    q.add('b');
    q.add('a');
    q.add('a');
    assert.equal(q.length, 2);
    q.start();
    await until(() => q.stats.processed === 2);
    await wait(20);
    assert.deepEqual(seen, ['a', 'b']);
    await q.stop();
  });

  it('GIVEN a key added while it is processed WHEN the run ends THEN it runs exactly once more, never concurrently', async () => {
    const gate = deferred();
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const q = queue(
      async () => {
        runs += 1;
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        if (runs === 1) await gate.promise;
        running -= 1;
      },
      { concurrency: 4 },
    );
    q.start();
    q.add('a');
    await until(() => runs === 1);
    q.add('a');
    q.add('a');
    assert.equal(q.length, 0, 'a dirty key does not wait in the ready list');
    await wait(20);
    assert.equal(runs, 1, 'not started again while running, despite free workers');
    gate.resolve();
    await until(() => q.stats.processed === 2);
    await wait(20);
    assert.equal(runs, 2);
    assert.equal(maxRunning, 1);
    await q.stop();
  });

  it('GIVEN concurrency 3 and 10 slow keys THEN at most 3 run at once and all finish', async () => {
    let running = 0;
    let maxRunning = 0;
    const q = queue(
      async () => {
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        await wait(15);
        running -= 1;
      },
      { concurrency: 3 },
    );
    for (let i = 0; i < 10; i += 1) q.add(`k${i}`);
    q.start();
    await until(() => q.stats.processed === 10);
    assert.equal(maxRunning, 3);
    await q.stop();
  });

  it('GIVEN a failing handler THEN it is retried with growing delays, and the backoff resets after a success', async () => {
    const times: number[] = [];
    let calls = 0;
    // random = 1: every delay is its ceiling (20, 40, 80 ms), so growth is observable.
    const q = queue(
      async () => {
        times.push(Date.now());
        calls += 1;
        if (calls <= 3 || calls === 5) throw new Error(`failure ${calls}`);
      },
      { backoff: { initialMs: 20, maxMs: 1000 }, random: () => 0.9999 },
    );
    q.start();
    q.add('a');
    await until(() => q.stats.processed === 1);
    assert.deepEqual({ ...q.stats }, { processed: 1, failed: 3, retries: 3 });
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    assert.ok(gaps[0]! >= 18 && gaps[1]! >= 38 && gaps[2]! >= 78, `gaps ${gaps.join(', ')}`);
    assert.ok(gaps[2]! < 400, `gaps ${gaps.join(', ')}`);

    q.add('a'); // run 5 fails, run 6 succeeds after the initial delay again
    await until(() => q.stats.processed === 2);
    const last = times[5]! - times[4]!;
    assert.ok(last >= 18 && last < 70, `after a success the delay starts over, got ${last} ms`);
    await q.stop();
  });

  it('GIVEN a handler that reports a failed write (retry) THEN the key is retried with backoff until it succeeds', async () => {
    let calls = 0;
    const q = queue(async () => {
      calls += 1;
      return calls < 3 ? { retry: { reason: 'RoleBinding x: denied' } } : undefined;
    }, { backoff: { initialMs: 10, maxMs: 100 } });
    q.start();
    q.add('a');
    await until(() => q.stats.processed === 1);
    assert.deepEqual({ ...q.stats }, { processed: 1, failed: 2, retries: 2 });
    await q.stop();
  });

  it('GIVEN a key in backoff WHEN new events add it THEN it still waits for its retry (the backoff is not cancelled)', async () => {
    const times: number[] = [];
    const q = queue(
      async () => {
        times.push(Date.now());
        if (times.length === 1) throw new Error('denied');
      },
      { backoff: { initialMs: 300, maxMs: 300 }, random: () => 0.9999 },
    );
    q.start();
    q.add('a');
    await until(() => times.length === 1);
    for (let i = 0; i < 5; i++) {
      await wait(20);
      q.add('a');
    }
    assert.equal(times.length, 1, 'events during the backoff did not run the key');
    assert.equal(q.backingOffLength, 1);
    await until(() => times.length === 2);
    assert.ok(times[1]! - times[0]! >= 290, `retried after ${times[1]! - times[0]!} ms, before its backoff of 300 ms`);
    await wait(50);
    assert.equal(times.length, 2, 'the coalesced events did not add another run');
    await q.stop();
  });

  it('GIVEN a failure with a server delay (Retry-After) longer than the backoff THEN the retry waits for the server delay', async () => {
    const times: number[] = [];
    const q = queue(
      async () => {
        times.push(Date.now());
        if (times.length === 1) throw Object.assign(new Error('429 Too Many Requests'), { retryAfterMs: 250 });
        if (times.length === 2) return { retry: { reason: 'throttled', notBeforeMs: 250 } };
        return undefined;
      },
      { backoff: { initialMs: 5, maxMs: 10 } },
    );
    q.start();
    q.add('a');
    await until(() => times.length === 3);
    assert.ok(times[1]! - times[0]! >= 245, `thrown: retried after ${times[1]! - times[0]!} ms`);
    assert.ok(times[2]! - times[1]! >= 245, `returned: retried after ${times[2]! - times[1]!} ms`);
    await q.stop();
  });

  it('GIVEN a handler running THEN longestRunningMs reports its age, and 0 when idle', async () => {
    const gate = deferred<void>();
    const q = queue(async () => gate.promise);
    assert.equal(q.longestRunningMs(), 0);
    q.start();
    q.add('a');
    await until(() => q.active === 1);
    await wait(30);
    assert.ok(q.longestRunningMs() >= 25);
    gate.resolve();
    await until(() => q.active === 0);
    assert.equal(q.longestRunningMs(), 0);
    await q.stop();
  });

  it('GIVEN a handler asking requeueAfterMs THEN the key runs again after that delay', async () => {
    const times: number[] = [];
    const q = queue(async () => {
      times.push(Date.now());
      return times.length === 1 ? { requeueAfterMs: 60 } : undefined;
    });
    q.start();
    q.add('a');
    await until(() => times.length === 2);
    assert.ok(times[1]! - times[0]! >= 55, `requeued after ${times[1]! - times[0]!} ms`);
    await wait(100);
    assert.equal(times.length, 2);
    await q.stop();
  });

  it('GIVEN a key delayed twice THEN the earlier due time wins and it runs once', async () => {
    const times: number[] = [];
    const q = queue(async () => void times.push(Date.now()));
    q.start();
    const added = Date.now();
    q.add('a', 500);
    q.add('a', 20);
    q.add('a', 300);
    assert.equal(q.delayedLength, 1);
    await until(() => times.length === 1);
    assert.ok(times[0]! - added < 250);
    await wait(600);
    assert.equal(times.length, 1);
    await q.stop();
  });

  it('GIVEN a handler in flight WHEN stopped THEN stop waits for it, and nothing runs afterwards', async () => {
    const gate = deferred();
    const seen: string[] = [];
    const q = queue(async (key) => {
      seen.push(key);
      if (key === 'a') await gate.promise;
      if (key === 'b') throw new Error('fails, so a retry would be scheduled');
    });
    q.start();
    q.add('b');
    await until(() => q.stats.failed === 1);
    q.add('a');
    q.add('c'); // waits behind a (concurrency 1) and must be dropped
    let stopped = false;
    const stopping = q.stop().then(() => (stopped = true));
    await wait(30);
    assert.equal(stopped, false, 'stop must wait for the running handler');
    gate.resolve();
    await stopping;
    q.add('d');
    await wait(300);
    assert.deepEqual(seen, ['b', 'a']);
  });

  it('GIVEN a throwing handler THEN the failure is logged with the key and the queue keeps working', async () => {
    const { logger, records } = captureLogger('warn');
    const q = new WorkQueue({
      name: 'logged',
      concurrency: 1,
      logger,
      backoff: { initialMs: 5, maxMs: 10 },
      handler: async (key) => {
        if (key === 'bad') throw new Error('boom');
      },
    });
    q.start();
    q.add('bad');
    q.add('good');
    await until(() => q.stats.processed >= 1 && q.stats.failed >= 2);
    await q.stop();
    const warning = records.find((r) => r.msg === 'Failed to reconcile key; retrying');
    assert.equal(warning?.key, 'bad');
    assert.equal(warning?.queue, 'logged');
  });

  it('rejects a concurrency below one', () => {
    assert.throws(() => queue(async () => undefined, { concurrency: 0 }), /concurrency 0/);
  });
});
