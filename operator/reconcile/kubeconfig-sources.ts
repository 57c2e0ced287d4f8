// The users' kubeconfig ConfigMaps that profiles reference (spec.kubeconfig.source ConfigMap), each
// watched by name for as long as some profile references it: an edit re-checks the profiles that use
// it (CredentialsReady, CredentialsProtected, AccessVerified) and rolls their workloads out (the
// content is part of the config-hash). Nothing else is cached, so memory follows the references.
// Secrets are never watched: even a metadata-only watch needs list/watch on Secrets, read access.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { ListWatchCache } from '../kube/cache.ts';
import type { KubeClient, KubeObject } from '../kube/client.ts';
import { RESOURCES, objectPath } from '../kube/resources.ts';

export type ConfigMapObject = KubeObject & { data?: Record<string, string> };

export interface KubeconfigSourcesOptions {
  client: KubeClient;
  logger: Logger;
  /** A watched ConfigMap was added, changed or deleted. */
  onChange: (namespace: string, name: string) => void;
}

export class KubeconfigSources {
  private readonly watched = new Map<string, ListWatchCache<ConfigMapObject>>();
  /** profile key -> the ConfigMap key ("namespace/name") it references. */
  private readonly references = new Map<string, string>();
  private running = false;

  constructor(private readonly opts: KubeconfigSourcesOptions) {}

  /** Starts the watches of the references recorded so far, and of those recorded from now on. */
  start(): void {
    this.running = true;
    for (const [key, cache] of this.watched) {
      const [namespace = '', name = ''] = key.split('/');
      this.startWatch(cache, namespace, name);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    const caches = [...this.watched.values()];
    this.watched.clear();
    await Promise.all(caches.map((c) => c.stop()));
  }

  /** Records which ConfigMap a profile references (undefined: none), starting or stopping watches. */
  track(profileKey: string, configMap: { namespace: string; name: string } | undefined): void {
    const before = this.references.get(profileKey);
    const after = configMap === undefined ? undefined : `${configMap.namespace}/${configMap.name}`;
    if (before === after) return;
    if (after === undefined) this.references.delete(profileKey);
    else this.references.set(profileKey, after);
    if (after !== undefined && !this.watched.has(after)) this.watch(after);
    if (before !== undefined && ![...this.references.values()].includes(before)) {
      const cache = this.watched.get(before);
      this.watched.delete(before);
      void cache?.stop();
    }
  }

  /** Profiles referencing this ConfigMap. */
  profilesUsing(namespace: string, name: string): string[] {
    const key = `${namespace}/${name}`;
    return [...this.references].filter(([, ref]) => ref === key).map(([profile]) => profile);
  }

  /** The ConfigMap from its watch once synced (no request), else read directly. */
  async get(namespace: string, name: string): Promise<ConfigMapObject | undefined> {
    const cache = this.watched.get(`${namespace}/${name}`);
    if (cache?.synced) return cache.get(namespace, name);
    return await this.opts.client.get<ConfigMapObject>(objectPath(RESOURCES.ConfigMap, namespace, name));
  }

  /** Number of ConfigMaps watched (for metrics and tests). */
  get size(): number {
    return this.watched.size;
  }

  private watch(key: string): void {
    const [namespace = '', name = ''] = key.split('/');
    const cache = new ListWatchCache<ConfigMapObject>({
      client: this.opts.client,
      resource: RESOURCES.ConfigMap,
      namespace,
      fieldSelector: `metadata.name=${name}`,
      name: `ConfigMap[${key}]`,
      logger: this.opts.logger,
    });
    cache.on((e) => {
      // The first LIST delivers ADDED for what the reconciler already read directly.
      if (e.type === 'ADDED' && !cache.synced) return;
      this.opts.onChange(namespace, name);
    });
    this.watched.set(key, cache);
    if (this.running) this.startWatch(cache, namespace, name);
  }

  private startWatch(cache: ListWatchCache<ConfigMapObject>, namespace: string, name: string): void {
    cache.start();
    // What changed between a direct read and the first LIST is caught by one more look once synced.
    cache.waitForSync().then(
      () => this.opts.onChange(namespace, name),
      () => undefined,
    );
  }
}

/** A digest of a kubeconfig's content, part of the workloads' config-hash (undefined: no content). */
export function contentDigest(configMap: ConfigMapObject | undefined, key: string): string | undefined {
  const text = configMap?.data?.[key];
  return text === undefined ? undefined : createHash('sha256').update(text).digest('hex').slice(0, 16);
}
