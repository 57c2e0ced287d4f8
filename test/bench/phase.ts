// A bench phase: bounded in time, its failure recorded as data (the run goes on with the next phase),
// the figures it measured before failing kept. Waits inside a phase end with the phase.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Figure, PhaseResult } from './report.ts';

export interface PhaseContext {
  /** Aborted when the phase runs out of time: every wait inside the phase must end then. */
  readonly signal: AbortSignal;
  /** Adds a measured figure (kept even if the phase fails later). */
  readonly record: (figure: Figure) => void;
}

export type Log = (message: string) => void;

/** How long a timed-out phase may take to end with its own, more precise error. */
const GRACE_MS = 2000;

/** Runs `fn` for at most `timeoutMs`; a throw or the timeout gives `ok: false` with the reason. */
export async function runPhase(name: string, timeoutMs: number, log: Log, fn: (ctx: PhaseContext) => Promise<void>): Promise<PhaseResult> {
  const figures: Figure[] = [];
  const controller = new AbortController();
  const timeout = new Error(`timed out after ${formatDuration(timeoutMs)}`);
  const timer = setTimeout(() => controller.abort(timeout), timeoutMs);
  const aborted = new Promise<'aborted'>((resolve) => controller.signal.addEventListener('abort', () => resolve('aborted'), { once: true }));
  const started = performance.now();
  log(`${name}...`);
  try {
    const work = fn({ signal: controller.signal, record: (f) => figures.push(f) });
    work.catch(() => undefined);
    if ((await Promise.race([work.then(() => 'done' as const), aborted])) === 'aborted') {
      // A wait ends at once with its own message (what it awaited, how far it got): give it a moment.
      throw (await Promise.race([work.then(() => timeout, (error: unknown) => error), sleep(GRACE_MS).then(() => timeout)])) ?? timeout;
    }
    const seconds = (performance.now() - started) / 1000;
    log(`${name}: done in ${seconds.toFixed(1)} s`);
    return { phase: name, ok: true, seconds, figures };
  } catch (error) {
    const seconds = (performance.now() - started) / 1000;
    const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    log(`${name}: FAILED after ${seconds.toFixed(1)} s: ${message}`);
    return { phase: name, ok: false, seconds, error: message, figures };
  } finally {
    clearTimeout(timer);
    // Whatever the phase still waits on stops now.
    if (!controller.signal.aborted) controller.abort(new Error(`phase ${name} ended`));
  }
}

export function formatDuration(ms: number): string {
  if (ms >= 60_000) return `${+(ms / 60_000).toFixed(1)} min`;
  return ms >= 1000 ? `${+(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

/**
 * Polls `probe` until it returns something other than undefined/false. Ends with the phase: the
 * error says what was awaited and, from `progress`, how far it got.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  ctx: Pick<PhaseContext, 'signal'>,
  options: { intervalMs?: number; timeoutMs?: number; progress?: () => string } = {},
): Promise<T> {
  const deadline = options.timeoutMs === undefined ? Infinity : performance.now() + options.timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    const progress = options.progress ? ` (${options.progress()})` : '';
    if (ctx.signal.aborted) throw new Error(`${(ctx.signal.reason as Error | undefined)?.message ?? 'aborted'} waiting for ${what}${progress}`);
    if (performance.now() > deadline) throw new Error(`${what}: not within ${formatDuration(options.timeoutMs!)}${progress}`);
    await sleep(options.intervalMs ?? 250, undefined, { signal: ctx.signal }).catch(() => undefined);
  }
}

/** Runs `fn(i)` for i in 0..n-1 with `concurrency` calls in flight; stops starting new ones once `signal` aborts. */
export async function pool(n: number, concurrency: number, signal: AbortSignal, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        if (signal.aborted) throw signal.reason;
        await fn(next++);
      }
    }),
  );
}

/** Wall-clock milliseconds with sub-millisecond resolution (watch timestamps are compared with each other only). */
export function now(): number {
  return performance.timeOrigin + performance.now();
}
