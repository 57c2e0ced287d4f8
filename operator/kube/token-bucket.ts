// Client-side rate limiting as client-go's (golang.org/x/time/rate): a bucket of `burst` tokens that
// refills at `qps` per second. Each take reserves the next token at once, so waiters are served in
// the order they asked and the wait is known up front; nothing is held after the take.
import { sleep } from './backoff.ts';

export interface TokenBucketOptions {
  /** Sustained rate, tokens per second. */
  readonly qps: number;
  /** Tokens available at once after an idle period (at least 1). */
  readonly burst: number;
}

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly options: TokenBucketOptions,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(options.qps > 0) || !Number.isFinite(options.qps)) throw new Error(`Invalid rate limit: qps ${options.qps} must be a finite number > 0`);
    if (!Number.isInteger(options.burst) || options.burst < 1) throw new Error(`Invalid rate limit: burst ${options.burst} must be an integer >= 1`);
    this.tokens = options.burst;
    this.last = this.now();
  }

  /** Takes a token and returns how many milliseconds its holder must wait before using it. */
  reserve(): number {
    this.refill();
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.options.qps) * 1000;
  }

  /** Waits for a token; when `signal` aborts first, gives it back and throws the abort reason. */
  async take(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    const waitMs = this.reserve();
    if (waitMs === 0) return;
    if (await sleep(waitMs, signal)) return;
    this.tokens += 1;
    throw signal?.reason;
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.options.burst, this.tokens + ((now - this.last) / 1000) * this.options.qps);
    this.last = now;
  }
}
