// A work queue of keys, after client-go's workqueue: a key waits at most once, is never processed
// concurrently with itself, is processed once more when it changed while being processed, and is
// retried with per-key exponential backoff. The queue carries keys only: handlers read the latest
// state themselves (level-based), so coalescing many events into one run loses nothing.
// A key in backoff stays there: new events for it wait for the retry instead of cancelling it, so a
// key that keeps failing costs one attempt per backoff step however busy its objects are.
import type { Logger } from 'pino';
import { Backoff, type BackoffOptions } from './backoff.ts';

export interface ReconcileResult {
  /** Process the key again after this delay (even on success), e.g. to re-check something slow. */
  requeueAfterMs?: number;
  /**
   * The run did not reach its goal (a write failed; its status already says so): retry with the
   * key's backoff, as for a thrown error, but without logging it as a handler failure.
   */
  retry?: { reason: string; /** The server asked to wait at least this long (Retry-After). */ notBeforeMs?: number };
}

export interface WorkQueueOptions {
  name: string;
  /** Keys processed at the same time (each key at most once). */
  concurrency: number;
  handler: (key: string) => Promise<ReconcileResult | void>;
  logger: Logger;
  /** Per-key retry delays after failures, full jitter. @default { initialMs: 200, maxMs: 180000 } */
  backoff?: { initialMs: number; maxMs: number };
  /** Test seam for the jitter. @default Math.random */
  random?: () => number;
}

export interface WorkQueueStats {
  /** Handler runs that succeeded. */
  processed: number;
  /** Handler runs that threw or asked for a retry. */
  failed: number;
  /** Retries scheduled after failures (thrown errors and `retry` results). */
  retries: number;
}

/** controller-runtime's per-item limiter starts at 5 ms and ends at 1000 s; a few minutes is enough here. */
const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 200, maxMs: 180_000 };

export class WorkQueue {
  readonly stats: WorkQueueStats = { processed: 0, failed: 0, retries: 0 };
  /** Ready keys in FIFO order; `ready` mirrors it for O(1) membership. */
  private readonly order: string[] = [];
  private readonly ready = new Set<string>();
  private readonly delayed = new Map<string, { timer: NodeJS.Timeout; dueAt: number }>();
  /** Keys being processed, with the time each run started. */
  private readonly processing = new Map<string, number>();
  /** Keys added while being processed: run once more when the current run ends. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, Backoff>();
  /** Keys waiting for a backoff retry: adds do not bring them forward. */
  private readonly backingOff = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private running = false;
  private stopped = false;
  private readonly log: Logger;
  private readonly backoffOptions: BackoffOptions;

  constructor(private readonly opts: WorkQueueOptions) {
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) {
      throw new Error(`WorkQueue ${opts.name}: concurrency ${opts.concurrency} must be a positive integer`);
    }
    this.backoffOptions = opts.backoff ?? DEFAULT_BACKOFF;
    new Backoff(this.backoffOptions); // validates the options now rather than at the first failure
    this.log = opts.logger.child({ queue: opts.name });
  }

  /**
   * Queues `key` (after `delayMs`, if given). A key already waiting is not queued twice (an earlier
   * due time wins); a key being processed is processed once more afterwards. Keys added before
   * `start()` wait for it; keys added after `stop()` are ignored.
   */
  add(key: string, delayMs?: number): void {
    if (this.stopped || this.backingOff.has(key)) return;
    if (delayMs !== undefined && delayMs > 0) {
      this.addAfter(key, delayMs);
      return;
    }
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.ready.has(key)) return;
    this.cancelDelayed(key);
    this.ready.add(key);
    this.order.push(key);
    this.pump();
  }

  start(): void {
    if (this.stopped || this.running) return;
    this.running = true;
    this.pump();
  }

  /** Stops taking work, drops waiting keys and waits for the handlers still running. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.running = false;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    this.backingOff.clear();
    await Promise.all([...this.inFlight]);
  }

  /** Keys ready to be processed now (not counting delayed or running ones). */
  get length(): number {
    return this.order.length;
  }

  /** Keys waiting for a backoff retry after a failure. */
  get backingOffLength(): number {
    return this.backingOff.size;
  }

  /** How long the longest-running handler has been running (0 when idle): a stuck one fails liveness. */
  longestRunningMs(now: number = Date.now()): number {
    let oldest = now;
    for (const started of this.processing.values()) oldest = Math.min(oldest, started);
    return now - oldest;
  }

  /** Keys waiting for a delay (retries, requeueAfter). */
  get delayedLength(): number {
    return this.delayed.size;
  }

  /** Keys being processed right now. */
  get active(): number {
    return this.processing.size;
  }

  private addAfter(key: string, delayMs: number, backoff = false): void {
    if (this.ready.has(key)) return;
    if (backoff) {
      this.cancelDelayed(key);
      this.backingOff.add(key);
    }
    const dueAt = Date.now() + delayMs;
    const existing = this.delayed.get(key);
    if (existing !== undefined && existing.dueAt <= dueAt) return;
    this.cancelDelayed(key);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.backingOff.delete(key);
      this.add(key);
    }, delayMs);
    this.delayed.set(key, { timer, dueAt });
  }

  private cancelDelayed(key: string): void {
    const existing = this.delayed.get(key);
    if (existing === undefined) return;
    clearTimeout(existing.timer);
    this.delayed.delete(key);
  }

  private pump(): void {
    while (this.running && this.processing.size < this.opts.concurrency && this.order.length > 0) {
      const key = this.order.shift() as string;
      this.ready.delete(key);
      this.processing.set(key, Date.now());
      const run = this.process(key);
      this.inFlight.add(run);
      void run.finally(() => {
        this.inFlight.delete(run);
        this.finish(key);
      });
    }
  }

  /** Runs the handler once; never rejects. */
  private async process(key: string): Promise<void> {
    try {
      const result = await this.opts.handler(key);
      if (result?.retry !== undefined) {
        this.stats.failed += 1;
        this.retry(key, result.retry.reason, result.retry.notBeforeMs);
        return;
      }
      this.stats.processed += 1;
      this.failures.delete(key);
      const after = result?.requeueAfterMs;
      if (after !== undefined) this.add(key, after);
    } catch (error) {
      this.stats.failed += 1;
      this.retry(key, error, (error as { retryAfterMs?: unknown }).retryAfterMs);
    }
  }

  /** Schedules the key's next attempt after its backoff, never sooner than the server asked. */
  private retry(key: string, error: unknown, notBeforeMs?: unknown): void {
    if (this.stopped) return;
    let backoff = this.failures.get(key);
    if (backoff === undefined) {
      backoff = new Backoff(this.backoffOptions, this.opts.random);
      this.failures.set(key, backoff);
    }
    const serverDelay = typeof notBeforeMs === 'number' && Number.isFinite(notBeforeMs) ? notBeforeMs : 0;
    const delayMs = Math.max(backoff.next(), serverDelay);
    this.stats.retries += 1;
    const detail = typeof error === 'string' ? { reason: error } : { err: error };
    this.log.warn({ ...detail, key, attempt: backoff.attempts, retryInMs: delayMs }, 'Failed to reconcile key; retrying');
    // A delay of 0 (possible with full jitter) still goes through the timer: never a tight loop.
    // Changes seen while the key ran are covered by this retry too.
    this.dirty.delete(key);
    this.addAfter(key, Math.max(1, delayMs), true);
  }

  private finish(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
    this.pump();
  }
}
