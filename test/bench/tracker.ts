// Every Deployment of a namespace as one watch reports it: when it was first seen labelled, when each
// config-hash first appeared, and whether the deployment controller has caught up with it. Both ends
// of every latency come from this one watch, so they share one clock and one delay.
import { setTimeout as sleep } from 'node:timers/promises';
import { CONFIG_HASH_ANNOTATION, PROFILE_LABEL } from '../../crds/apiaccessprofile.ts';
import { isGone, type KubeClient, type KubeObject } from '../../operator/kube/client.ts';
import { now, type Log } from './phase.ts';

type Deployment = KubeObject & {
  spec?: { template?: { metadata?: { annotations?: Record<string, string> } } };
  status?: { observedGeneration?: number };
};

export interface Seen {
  /** First event that showed the profile label. */
  labelledAt?: number;
  /** The current config-hash of the pod template and when it first appeared. */
  hash?: string;
  hashAt?: number;
  /** The generation that brought the current config-hash, and when the deployment controller had observed it. */
  hashGeneration?: number;
  controllerAt?: number;
  generation?: number;
  observedGeneration?: number;
}

const WATCH_TIMEOUT_SECONDS = 300;

export class DeploymentTracker {
  private readonly seen = new Map<string, Seen>();
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private resourceVersion = '';
  /** Watch events received: the bench's own view of the load. */
  events = 0;

  constructor(
    private readonly client: KubeClient,
    readonly namespace: string,
    private readonly log: Log,
  ) {}

  private get path(): string {
    return `/apis/apps/v1/namespaces/${this.namespace}/deployments`;
  }

  /** Lists, then watches in the background until `stop`. */
  async start(): Promise<void> {
    await this.list();
    this.loop = this.watchLoop();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  get(name: string): Seen | undefined {
    return this.seen.get(name);
  }

  count(names: readonly string[], test: (seen: Seen) => boolean): number {
    return names.reduce((n, name) => {
      const s = this.seen.get(name);
      return s !== undefined && test(s) ? n + 1 : n;
    }, 0);
  }

  /** The deployment controller has observed the latest generation of every one of `names`. */
  controllerCaughtUp(names: readonly string[]): boolean {
    return this.count(names, (s) => s.generation !== undefined && (s.observedGeneration ?? 0) >= s.generation) === names.length;
  }

  /** How many of the Deployments in `previous` now carry another config-hash than they did. */
  changedSince(previous: ReadonlyMap<string, string | undefined>): number {
    let n = 0;
    for (const [name, hash] of previous) {
      const current = this.seen.get(name)?.hash;
      if (current !== undefined && current !== hash) n += 1;
    }
    return n;
  }

  hashes(names: readonly string[]): Map<string, string | undefined> {
    return new Map(names.map((n) => [n, this.seen.get(n)?.hash]));
  }

  private async list(): Promise<void> {
    let token: string | undefined;
    do {
      const page = await this.client.request<{ items: Deployment[]; metadata: { resourceVersion: string; continue?: string } }>('GET', this.path, {
        query: { limit: 500, continue: token },
        timeoutMs: 120_000,
      });
      for (const d of page.items) this.observe(d);
      this.resourceVersion = page.metadata.resourceVersion;
      token = page.metadata.continue || undefined;
    } while (token !== undefined);
  }

  private async watchLoop(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        const query = { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: WATCH_TIMEOUT_SECONDS };
        for await (const event of this.client.watch<Deployment & { code?: number }>(this.path, query, signal)) {
          this.events += 1;
          if (event.type === 'ERROR') {
            if (event.object.code === 410) await this.list();
            else this.log(`Watch of Deployments in ${this.namespace} sent an error: ${JSON.stringify(event.object).slice(0, 200)}`);
            break;
          }
          if (event.object.metadata?.resourceVersion) this.resourceVersion = event.object.metadata.resourceVersion;
          if (event.type === 'ADDED' || event.type === 'MODIFIED') this.observe(event.object);
          if (event.type === 'DELETED') this.seen.delete(event.object.metadata.name);
        }
      } catch (error) {
        if (signal.aborted) return;
        if (isGone(error)) {
          await this.list().catch(() => undefined);
          continue;
        }
        this.log(`Watch of Deployments in ${this.namespace} ended (${(error as Error).message.split('\n')[0]}); watching again`);
        await sleep(500);
      }
    }
  }

  private observe(d: Deployment): void {
    const at = now();
    const entry = this.seen.get(d.metadata.name) ?? {};
    if (entry.labelledAt === undefined && d.metadata.labels?.[PROFILE_LABEL] !== undefined) entry.labelledAt = at;
    const hash = d.spec?.template?.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
    if (hash !== entry.hash) {
      entry.hash = hash;
      entry.hashAt = hash === undefined ? undefined : at;
      entry.hashGeneration = hash === undefined ? undefined : d.metadata.generation;
      entry.controllerAt = undefined;
    }
    entry.generation = d.metadata.generation;
    entry.observedGeneration = d.status?.observedGeneration;
    if (entry.controllerAt === undefined && entry.hashGeneration !== undefined && (entry.observedGeneration ?? 0) >= entry.hashGeneration) entry.controllerAt = at;
    this.seen.set(d.metadata.name, entry);
  }
}
