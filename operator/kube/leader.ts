// Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection: optimistic
// concurrency through resourceVersion, expiry judged by the local clock since the record last
// changed (immune to clock skew between replicas), and a release on stop so a successor takes over
// at once. Needs get/create/update on leases in one namespace.
import type { Logger } from 'pino';
import { sleep } from './backoff.ts';
import { isConflict, isNotFound, type KubeClient, type KubeObject } from './client.ts';
import { RESOURCES, apiVersionOf, collectionPath, objectPath } from './resources.ts';

export interface LeaderElectorOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  /** Unique per replica (pod name + random suffix). */
  identity: string;
  /** How long a non-renewed lease keeps others waiting. @default 15 */
  leaseDurationSeconds?: number;
  /** The leader gives up when it could not renew for this long. @default 10 */
  renewDeadlineSeconds?: number;
  /** Interval of renewals and of candidates' attempts. @default 2 */
  retryPeriodSeconds?: number;
  logger: Logger;
}

export interface LeaderCallbacks {
  onStartedLeading: () => void;
  /** Called when leadership was lost (renewal failed or another holder appeared), not on stop(). */
  onStoppedLeading: () => void;
}

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number | null;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number | null;
}

interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

/** acquired: we hold the lease now; held: another live holder has it; failed: try again. */
type Attempt = 'acquired' | 'held' | 'failed';

export class LeaderElector {
  private leading = false;
  private readonly stopController = new AbortController();
  private loop: Promise<void> | undefined;
  /** The lease as we last wrote it while leading: renewals update it without a GET. */
  private ownLease: Lease | undefined;
  /** When the holder's record last changed, by our clock. */
  private observed: { record: string; at: number } | undefined;
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private readonly log: Logger;

  constructor(private readonly opts: LeaderElectorOptions) {
    const lease = opts.leaseDurationSeconds ?? 15;
    const renew = opts.renewDeadlineSeconds ?? 10;
    const retry = opts.retryPeriodSeconds ?? 2;
    if (!Number.isInteger(lease) || !(lease > renew) || !(renew > retry) || !(retry > 0)) {
      throw new Error(
        `Invalid leader election timing: need an integer leaseDurationSeconds (${lease}) > renewDeadlineSeconds (${renew}) > retryPeriodSeconds (${retry}) > 0`,
      );
    }
    this.leaseMs = lease * 1000;
    this.renewDeadlineMs = renew * 1000;
    this.retryMs = retry * 1000;
    this.log = opts.logger.child({ lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Campaigns in the background; after losing leadership it campaigns again. */
  run(callbacks: LeaderCallbacks): void {
    if (this.loop !== undefined || this.stopping) return;
    this.loop = this.campaign(callbacks);
  }

  /** Stops campaigning and, if leading, releases the lease so a successor need not wait for expiry. */
  async stop(): Promise<void> {
    this.stopController.abort();
    await this.loop;
    if (!this.leading) return;
    this.leading = false;
    await this.release();
  }

  private get stopping(): boolean {
    return this.stopController.signal.aborted;
  }

  private async campaign(callbacks: LeaderCallbacks): Promise<void> {
    while (!this.stopping) {
      if (!(await this.acquire())) return;
      this.leading = true;
      this.log.info('Acquired Lease');
      this.notify(callbacks.onStartedLeading, 'onStartedLeading');
      await this.renewUntilLost();
      if (this.stopping) return;
      this.leading = false;
      this.ownLease = undefined;
      this.log.error('Lost Lease');
      this.notify(callbacks.onStoppedLeading, 'onStoppedLeading');
    }
  }

  /** True once acquired, false when stopped first. */
  private async acquire(): Promise<boolean> {
    while (!this.stopping) {
      if ((await this.tryAcquireOrRenew(this.retryMs * 5)) === 'acquired') return true;
      // Jitter keeps candidates that started together from colliding on every attempt.
      await sleep(this.retryMs * (1 + 0.2 * Math.random()), this.stopController.signal);
    }
    return false;
  }

  /** Renews every retry period; returns when stopped or when renewal failed for renewDeadline. */
  private async renewUntilLost(): Promise<void> {
    let renewedAt = Date.now();
    while (await sleep(this.retryMs, this.stopController.signal)) {
      const remaining = this.renewDeadlineMs - (Date.now() - renewedAt);
      const attempt = await this.tryAcquireOrRenew(Math.max(remaining, 1));
      if (this.stopping) return;
      if (attempt === 'acquired') {
        renewedAt = Date.now();
        continue;
      }
      if (attempt === 'held' || Date.now() - renewedAt >= this.renewDeadlineMs) return;
    }
  }

  private async tryAcquireOrRenew(timeoutMs: number): Promise<Attempt> {
    try {
      if (this.leading && this.ownLease !== undefined) return await this.renewOwn(timeoutMs);
      return await this.tryAcquire(timeoutMs);
    } catch (error) {
      if (this.stopping) return 'failed';
      this.log.warn({ err: error }, this.leading ? 'Failed to renew Lease' : 'Failed to acquire Lease');
      return 'failed';
    }
  }

  /** The leader's renewal: one PUT on the lease it wrote last; a conflict sends it back to GET. */
  private async renewOwn(timeoutMs: number): Promise<Attempt> {
    const lease = this.ownLease as Lease;
    try {
      this.ownLease = await this.write('PUT', this.recordFor(lease, new Date()), timeoutMs);
      return 'acquired';
    } catch (error) {
      if (!isConflict(error) && !isNotFound(error)) throw error;
      this.ownLease = undefined;
      return await this.tryAcquire(timeoutMs);
    }
  }

  private async tryAcquire(timeoutMs: number): Promise<Attempt> {
    const current = await this.opts.client.get<Lease>(this.path());
    const now = new Date();
    if (current === undefined) return await this.create(now, timeoutMs);
    const spec = current.spec ?? {};
    this.observe(spec);
    const holder = spec.holderIdentity ?? '';
    if (holder !== '' && holder !== this.opts.identity && !this.expired(spec)) return 'held';
    if (holder !== this.opts.identity) this.log.info({ previousHolder: holder || undefined }, 'Taking over Lease');
    try {
      this.ownLease = await this.write('PUT', this.recordFor(current, now), timeoutMs);
      return 'acquired';
    } catch (error) {
      if (isConflict(error)) return 'failed';
      throw error;
    }
  }

  private async create(now: Date, timeoutMs: number): Promise<Attempt> {
    const lease: Lease = {
      apiVersion: apiVersionOf(RESOURCES.Lease),
      kind: 'Lease',
      metadata: { name: this.opts.name, namespace: this.opts.namespace },
      spec: {},
    };
    try {
      this.ownLease = await this.write('POST', this.recordFor(lease, now), timeoutMs);
      return 'acquired';
    } catch (error) {
      // AlreadyExists: another candidate created it first.
      if (isConflict(error)) return 'held';
      throw error;
    }
  }

  /** The lease with us as holder, renewed now; acquireTime and transitions change only on takeover. */
  private recordFor(lease: Lease, now: Date): Lease {
    const spec = lease.spec ?? {};
    const mine = spec.holderIdentity === this.opts.identity;
    return {
      ...lease,
      spec: {
        holderIdentity: this.opts.identity,
        leaseDurationSeconds: this.leaseMs / 1000,
        acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (mine || !spec.holderIdentity ? 0 : 1),
      },
    };
  }

  private async write(method: 'POST' | 'PUT', lease: Lease, timeoutMs: number): Promise<Lease> {
    const path = method === 'POST' ? collectionPath(RESOURCES.Lease, this.opts.namespace) : this.path();
    const written = await this.opts.client.request<Lease>(method, path, { body: lease, timeoutMs: Math.min(timeoutMs, 30_000) });
    this.observe(written.spec ?? {});
    return written;
  }

  /** Expired when the record has not changed for its lease duration, by our own clock. */
  private expired(spec: LeaseSpec): boolean {
    const duration = (spec.leaseDurationSeconds ?? this.leaseMs / 1000) * 1000;
    return this.observed !== undefined && Date.now() - this.observed.at >= duration;
  }

  private observe(spec: LeaseSpec): void {
    const record = JSON.stringify([spec.holderIdentity ?? '', spec.renewTime ?? '', spec.acquireTime ?? '', spec.leaseDurationSeconds ?? 0]);
    if (this.observed?.record !== record) this.observed = { record, at: Date.now() };
  }

  /** Hands the lease back: no holder and a 1 s duration, so a candidate takes it at its next attempt. */
  private async release(): Promise<void> {
    const lease = this.ownLease ?? (await this.opts.client.get<Lease>(this.path()).catch(() => undefined));
    this.ownLease = undefined;
    if (lease === undefined || lease.spec?.holderIdentity !== this.opts.identity) return;
    const now = microTime(new Date());
    const released: Lease = {
      ...lease,
      spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now },
    };
    try {
      await this.opts.client.request<Lease>('PUT', this.path(), { body: released, timeoutMs: 5_000 });
      this.log.info('Released Lease');
    } catch (error) {
      // The lease then simply expires; a successor waits leaseDurationSeconds.
      this.log.warn({ err: error }, 'Failed to release Lease');
    }
  }

  private notify(callback: () => void, name: string): void {
    try {
      callback();
    } catch (error) {
      this.log.error({ err: error, callback: name }, 'Caught failing leader election callback');
    }
  }

  private path(): string {
    return objectPath(RESOURCES.Lease, this.opts.namespace, this.opts.name);
  }
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
