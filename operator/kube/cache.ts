// A list+watch cache of one resource (optionally one namespace and label/field selector), robust
// where client-node 1.4's informer is not (toolchain.md): relist on 410, reconnect with backoff and
// full jitter, server `timeoutSeconds` plus an inactivity watchdog against silent dead watches,
// bookmarks, handler isolation, and a stop() that really stops.
import type { Logger } from 'pino';
import { Backoff, sleep, type BackoffOptions } from './backoff.ts';
import { apiErrorFromWatchEvent, isGone, isNotFound, type KubeClient, type KubeObject, type Query, type WatchEvent } from './client.ts';
import { apiVersionOf, collectionPath, type ResourceRef } from './resources.ts';

export type CacheEvent<T> = { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: T; old?: T };
export type CacheHandler<T> = (event: CacheEvent<T>) => void | Promise<void>;

export interface CacheOptions<T extends KubeObject = KubeObject> {
  client: KubeClient;
  resource: ResourceRef;
  /** Only this namespace; all namespaces when absent. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Names the cache in logs. */
  name: string;
  logger: Logger;
  /** Server-side watch timeout, randomized by ±20 % per watch so caches do not reconnect in lock-step. @default 300 */
  timeoutSeconds?: number;
  /** A watch that received no byte for this long is aborted and re-established. @default (this watch's timeoutSeconds + 30) * 1000 */
  inactivityMs?: number;
  /** @default { initialMs: 500, maxMs: 30000 } */
  backoff?: { initialMs: number; maxMs: number };
  /** LIST page size. @default 500 */
  pageSize?: number;
  /**
   * The resource may not be served (an API of newer Kubernetes releases): a 404 on the first LIST
   * counts as synced and empty, is logged once, and the cache stops (no polling on an idle cluster).
   */
  optional?: boolean;
  /**
   * Applied to every object before it is stored or handed to handlers (it may return another
   * object, e.g. one already held elsewhere). @default slimObject: drops managedFields and kubectl's
   * last-applied annotation, which nothing reads and which can double an object's size
   */
  transform?: (object: T) => T;
}

export interface CacheStats {
  /** LIST operations started (each may span several pages). */
  lists: number;
  /** WATCH requests started. */
  watches: number;
  /** LISTs after the first one, caused by an expired resourceVersion. */
  relists: number;
  /** Failed lists and watches, including watches aborted by the inactivity watchdog. */
  errors: number;
}

interface ListResponse<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** How a watch ended; decides what the loop does next. */
type WatchOutcome = 'ended' | 'short' | 'expired' | 'failed' | 'gap' | 'stopped';

interface Gap {
  reached: () => void;
  released: Promise<void>;
  release: () => void;
}

const DEFAULT_TIMEOUT_SECONDS = 300;
const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000 };
const DEFAULT_PAGE_SIZE = 500;
const INACTIVITY_GRACE_SECONDS = 30;
/** A watch that ends this fast without any event is treated like a failure (client-go does the same). */
const SHORT_WATCH_MS = 1000;
const GAP_FOR_TEST = Symbol('gap for test');

export class ListWatchCache<T extends KubeObject> {
  readonly stats: CacheStats = { lists: 0, watches: 0, relists: 0, errors: 0 };
  private store = new Map<string, T>();
  private readonly handlers: CacheHandler<T>[] = [];
  private resourceVersion: string | undefined;
  private readonly stopController = new AbortController();
  private currentWatch: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private hasSynced = false;
  private notServed = false;
  private readonly syncWaiters = new Set<{ resolve: () => void; reject: (error: unknown) => void }>();
  private gap: Gap | undefined;
  private readonly backoff: Backoff;
  private readonly log: Logger;
  private readonly path: string;
  private readonly kind: string;

  constructor(private readonly opts: CacheOptions<T>) {
    const timeout = opts.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
    if (!(timeout >= 1)) throw new Error(`Cache ${opts.name}: timeoutSeconds ${timeout} must be >= 1`);
    if (opts.inactivityMs !== undefined && !(opts.inactivityMs > 0)) throw new Error(`Cache ${opts.name}: inactivityMs ${opts.inactivityMs} must be > 0`);
    this.backoff = new Backoff(opts.backoff ?? DEFAULT_BACKOFF);
    this.log = opts.logger.child({ cache: opts.name });
    this.path = collectionPath(opts.resource, opts.namespace);
    this.kind = opts.resource.kind;
  }

  /** Handlers run synchronously in registration order; a failing one is logged and the rest still run. */
  on(handler: CacheHandler<T>): void {
    this.handlers.push(handler);
  }

  /** Starts listing and watching in the background; a second call does nothing. */
  start(): void {
    if (this.loop !== undefined || this.stopController.signal.aborted) return;
    this.loop = this.run();
  }

  /** Aborts the watch and waits for the loop to end; the cache never restarts afterwards. */
  async stop(): Promise<void> {
    if (!this.stopController.signal.aborted) {
      this.stopController.abort();
      this.gap?.release();
      const stopped = new Error(`Cache ${this.opts.name} stopped before it synced`);
      for (const waiter of this.syncWaiters) waiter.reject(stopped);
      this.syncWaiters.clear();
    }
    await this.loop;
  }

  /** Resolves once the first LIST has been stored and its events delivered. */
  async waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.hasSynced) return;
    if (this.stopController.signal.aborted) throw new Error(`Cache ${this.opts.name} stopped before it synced`);
    signal?.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.syncWaiters.delete(waiter);
        reject(signal?.reason);
      };
      const waiter = {
        resolve: (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (error: unknown): void => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      this.syncWaiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  get synced(): boolean {
    return this.hasSynced;
  }

  /** False when an optional resource is not served by this API server (see CacheOptions.optional). */
  get served(): boolean {
    return !this.notServed;
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.store.get(storeKey(namespace, name));
  }

  /** Every cached object, or those of one namespace. */
  list(namespace?: string): T[] {
    const all = [...this.store.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
  }

  /**
   * Test hook: ends the current watch, runs `duringGap` while nothing watches, then watches again
   * from `resourceVersion` (default: where it left off). When the gap outlived the server's history
   * (the test compacts etcd) the watch answers 410 and the cache relists: the way to prove that
   * changes made during a gap (deletions, removed labels) are reported.
   */
  async simulateGapForTest(duringGap: () => Promise<void>, resourceVersion?: string): Promise<void> {
    let release = (): void => undefined;
    const released = new Promise<void>((r) => (release = r));
    const reached = new Promise<void>((resolve) => {
      this.gap = { reached: resolve, released, release };
    });
    this.currentWatch?.abort(GAP_FOR_TEST);
    await reached;
    try {
      await duringGap();
    } finally {
      if (resourceVersion !== undefined) this.resourceVersion = resourceVersion;
      this.gap = undefined;
      release();
    }
  }

  private get stopping(): boolean {
    return this.stopController.signal.aborted;
  }

  private async run(): Promise<void> {
    let needList = true;
    while (!this.stopping) {
      if (needList) {
        if (!(await this.listOnce())) {
          if (this.notServed) return;
          await this.pause();
          continue;
        }
        needList = false;
      }
      if (this.gap !== undefined) {
        this.gap.reached();
        await this.gap.released;
      }
      const outcome = await this.watchOnce();
      needList = await this.afterWatch(outcome);
    }
  }

  /** What follows a watch: true when the next step is a LIST. */
  private async afterWatch(outcome: WatchOutcome): Promise<boolean> {
    switch (outcome) {
      case 'ended':
        this.backoff.reset();
        return false;
      case 'expired':
        this.stats.relists += 1;
        this.log.info({ resourceVersion: this.resourceVersion }, `Relisted ${this.kind} after its resourceVersion expired`);
        return true;
      case 'short':
      case 'failed':
        await this.pause();
        return this.resourceVersion === undefined;
      case 'gap':
      case 'stopped':
        return false;
    }
  }

  private async pause(): Promise<void> {
    await sleep(this.backoff.next(), this.stopController.signal);
  }

  /** One paginated LIST replacing the store; false (logged, counted) when it failed. */
  private async listOnce(): Promise<boolean> {
    this.stats.lists += 1;
    try {
      const { items, resourceVersion } = await this.listAllPages();
      this.replace(items, resourceVersion);
      return true;
    } catch (error) {
      if (this.stopping) return false;
      if (this.opts.optional === true && !this.hasSynced && isNotFound(error)) {
        this.notServed = true;
        this.log.warn({ path: this.path }, `The API server does not serve ${this.kind}`);
        this.markSynced(0);
        return false;
      }
      this.stats.errors += 1;
      this.log.warn({ err: error, attempt: this.backoff.attempts + 1 }, `Failed to list ${this.kind}`);
      return false;
    }
  }

  private async listAllPages(): Promise<{ items: T[]; resourceVersion: string | undefined }> {
    let items: T[] = [];
    let token: string | undefined;
    for (;;) {
      let page: ListResponse<T>;
      try {
        page = await this.opts.client.request<ListResponse<T>>('GET', this.path, {
          query: { ...this.selectors(), limit: this.opts.pageSize ?? DEFAULT_PAGE_SIZE, continue: token },
          signal: this.stopController.signal,
        });
      } catch (error) {
        // The continue token's snapshot was compacted away: start the whole LIST over.
        if (token === undefined || !isGone(error)) throw error;
        this.log.info(`Restarted ${this.kind} list after its continue token expired`);
        items = [];
        token = undefined;
        continue;
      }
      for (const item of page.items) items.push(this.prepare(item));
      token = page.metadata.continue || undefined;
      if (token === undefined) return { items, resourceVersion: page.metadata.resourceVersion };
    }
  }

  /** Replaces the store and reports the difference, so a relist after a gap reports deletions too. */
  private replace(items: T[], resourceVersion: string | undefined): void {
    const previous = this.store;
    this.store = new Map(items.map((item) => [keyOf(item), item]));
    this.resourceVersion = resourceVersion;
    const events: CacheEvent<T>[] = [];
    for (const [key, object] of this.store) {
      const old = previous.get(key);
      if (old === undefined) events.push({ type: 'ADDED', object });
      else if (old.metadata.resourceVersion !== object.metadata.resourceVersion) events.push({ type: 'MODIFIED', object, old });
    }
    for (const [key, old] of previous) {
      if (!this.store.has(key)) events.push({ type: 'DELETED', object: old, old });
    }
    this.log.debug({ items: items.length, resourceVersion, changes: events.length }, `Listed ${this.kind}`);
    for (const event of events) this.emit(event);
    if (!this.hasSynced) this.markSynced(items.length);
  }

  private markSynced(count: number): void {
    this.hasSynced = true;
    this.log.debug({ items: count }, `Synced ${this.kind} cache`);
    for (const waiter of this.syncWaiters) waiter.resolve();
    this.syncWaiters.clear();
  }

  private async watchOnce(): Promise<WatchOutcome> {
    const controller = new AbortController();
    this.currentWatch = controller;
    const timeoutSeconds = this.watchTimeoutSeconds();
    const inactivityMs = this.opts.inactivityMs ?? (timeoutSeconds + INACTIVITY_GRACE_SECONDS) * 1000;
    const watchdog = new Watchdog(inactivityMs, () => controller.abort(new InactivityError(inactivityMs)));
    const signal = AbortSignal.any([this.stopController.signal, controller.signal]);
    const query: Query = { ...this.selectors(), resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds };
    const started = Date.now();
    let events = 0;
    this.stats.watches += 1;
    try {
      for await (const event of this.opts.client.watch<T>(this.path, query, signal, () => watchdog.touch())) {
        events += 1;
        this.handleWatchEvent(event);
      }
      return events === 0 && Date.now() - started < SHORT_WATCH_MS ? 'short' : 'ended';
    } catch (error) {
      return this.watchFailed(error, controller.signal);
    } finally {
      watchdog.stop();
      this.currentWatch = undefined;
    }
  }

  private watchFailed(error: unknown, signal: AbortSignal): WatchOutcome {
    if (this.stopping) return 'stopped';
    if (signal.reason === GAP_FOR_TEST) return 'gap';
    if (isGone(error)) return 'expired';
    this.stats.errors += 1;
    if (error instanceof InactivityError) {
      this.log.warn({ inactivityMs: error.inactivityMs }, `Aborted silent ${this.kind} watch`);
    } else {
      this.log.warn({ err: error, attempt: this.backoff.attempts + 1 }, `Failed to watch ${this.kind}`);
    }
    return 'failed';
  }

  private handleWatchEvent(event: WatchEvent<T>): void {
    if (event.type === 'ERROR') throw apiErrorFromWatchEvent(this.path, event.object);
    const resourceVersion = event.object?.metadata?.resourceVersion;
    if (resourceVersion) this.resourceVersion = resourceVersion;
    if (event.type === 'BOOKMARK') return;
    event = { type: event.type, object: this.prepare(event.object) };
    const key = keyOf(event.object);
    const old = this.store.get(key);
    if (event.type === 'DELETED') {
      this.store.delete(key);
      this.emit(old === undefined ? { type: 'DELETED', object: event.object } : { type: 'DELETED', object: event.object, old });
      return;
    }
    this.store.set(key, event.object);
    this.emit(old === undefined ? { type: 'ADDED', object: event.object } : { type: 'MODIFIED', object: event.object, old });
  }

  private emit(event: CacheEvent<T>): void {
    for (const handler of this.handlers) {
      try {
        const result = handler(event);
        // Not awaited: a slow handler must not stall the watch. Handlers enqueue keys; the
        // reconciler reads the latest state itself.
        if (result !== undefined) void Promise.resolve(result).catch((error: unknown) => this.handlerFailed(error, event));
      } catch (error) {
        this.handlerFailed(error, event);
      }
    }
  }

  private handlerFailed(error: unknown, event: CacheEvent<T>): void {
    const { namespace, name } = event.object.metadata;
    this.log.error({ err: error, event: event.type, namespace, name }, `Caught failing ${this.kind} event handler`);
  }

  private selectors(): Query {
    return { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector };
  }

  private watchTimeoutSeconds(): number {
    const base = this.opts.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
    return Math.max(1, Math.round(base * (0.8 + 0.4 * Math.random())));
  }

  /** LIST items come without apiVersion/kind; watch objects carry them. Make both alike, then slim. */
  private prepare(item: T): T {
    item.apiVersion ??= apiVersionOf(this.opts.resource);
    item.kind ??= this.kind;
    return (this.opts.transform ?? slimObject)(item);
  }
}

class InactivityError extends Error {
  readonly code = 'WatchInactive';
  constructor(readonly inactivityMs: number) {
    super(`No data on the watch for ${inactivityMs} ms`);
  }
}

/** Fires `onSilence` when `touch()` was not called for `ms`. */
class Watchdog {
  private readonly timer: NodeJS.Timeout;

  constructor(ms: number, onSilence: () => void) {
    this.timer = setTimeout(onSilence, ms);
  }

  touch(): void {
    this.timer.refresh();
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/** Drops what no reconcile reads and what makes up much of an object's size: managedFields, kubectl's last-applied copy. */
export function slimObject<T extends KubeObject>(object: T): T {
  const metadata = object.metadata as KubeObject['metadata'] & { managedFields?: unknown };
  delete metadata.managedFields;
  if (metadata.annotations !== undefined && LAST_APPLIED_ANNOTATION in metadata.annotations) delete metadata.annotations[LAST_APPLIED_ANNOTATION];
  return object;
}

function storeKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

function keyOf(obj: KubeObject): string {
  return storeKey(obj.metadata.namespace, obj.metadata.name);
}
