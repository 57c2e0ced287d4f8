// Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"):
// the delay is uniform in [0, min(max, initial * 2^attempt)]. Full jitter spreads many clients that
// failed at the same moment (an API server restart) instead of having them retry in lock-step.

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

/** The cap for the n-th consecutive failure (0-based), before jitter. */
export function backoffCeiling(attempt: number, options: BackoffOptions): number {
  // 2^attempt overflows to Infinity for large attempts, which Math.min handles.
  return Math.min(options.maxMs, options.initialMs * 2 ** Math.max(0, attempt));
}

/** A full-jitter delay for the n-th consecutive failure (0-based). */
export function fullJitterDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  return Math.floor(random() * backoffCeiling(attempt, options));
}

/** Counts consecutive failures of one thing (a watch, a queue key) and hands out jittered delays. */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly options: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {
    if (!(options.initialMs > 0) || !(options.maxMs >= options.initialMs)) {
      throw new Error(`Invalid backoff: initialMs ${options.initialMs} must be > 0 and maxMs ${options.maxMs} >= initialMs`);
    }
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const delay = fullJitterDelay(this.failures, this.options, this.random);
    this.failures += 1;
    return delay;
  }

  /** After a success the next failure starts from `initialMs` again. */
  reset(): void {
    this.failures = 0;
  }

  get attempts(): number {
    return this.failures;
  }
}

/**
 * Resolves after `ms`, or early (with false) when `signal` aborts, so a stopping component never
 * waits out a 30 s backoff. Never rejects.
 */
export async function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return false;
  return await new Promise<boolean>((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
