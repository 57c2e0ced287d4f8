import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, pool, runPhase, until } from './phase.ts';

const quiet = (): void => undefined;

describe('a bench phase', () => {
  it('fails with the timeout as its reason and keeps the figures measured before it', async () => {
    const result = await runPhase('slow', 100, quiet, async (ctx) => {
      ctx.record({ name: 'first', value: 1, unit: 'x' });
      await until('something that never happens', () => false, ctx, { intervalMs: 10, progress: () => '0 of 3 seen' });
    });
    assert.equal(result.ok, false);
    assert.equal(result.error, 'timed out after 100 ms waiting for something that never happens (0 of 3 seen)');
    assert.deepEqual(result.figures, [{ name: 'first', value: 1, unit: 'x' }]);
  });

  it('records a throw as data, naming the first line of the message', async () => {
    const result = await runPhase('broken', 60_000, quiet, async () => {
      throw new Error('no bound Deployment to switch\nstack');
    });
    assert.deepEqual({ ok: result.ok, error: result.error }, { ok: false, error: 'no bound Deployment to switch' });
  });

  it('succeeds with its figures', async () => {
    const result = await runPhase('fine', 60_000, quiet, async (ctx) => ctx.record({ name: 'n', value: 2, unit: 'x' }));
    assert.equal(result.ok, true);
    assert.equal(result.figures.length, 1);
  });
});

describe('waiting inside a phase', () => {
  it('returns the first value the probe gives', async () => {
    let calls = 0;
    const value = await until('three calls', () => (++calls === 3 ? 'done' : undefined), { signal: new AbortController().signal }, { intervalMs: 1 });
    assert.equal(value, 'done');
    assert.equal(calls, 3);
  });

  it('gives up after its own timeout, saying how far it got', async () => {
    await assert.rejects(until('the injection', () => false, { signal: new AbortController().signal }, { intervalMs: 5, timeoutMs: 20, progress: () => '7 of 10 injected' }), /^Error: the injection: not within 20 ms \(7 of 10 injected\)$/);
  });
});

describe('a pool of calls', () => {
  it('runs every index once with at most `concurrency` in flight', async () => {
    const seen: number[] = [];
    let inFlight = 0;
    let most = 0;
    await pool(10, 3, new AbortController().signal, async (i) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 1));
      seen.push(i);
      inFlight -= 1;
    });
    assert.deepEqual([...seen].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(most, 3);
  });
});

describe('durations in messages', () => {
  it('reads in ms below a second, s below a minute, min above', () => {
    assert.deepEqual([formatDuration(20), formatDuration(1500), formatDuration(900_000)], ['20 ms', '1.5 s', '15 min']);
  });
});
