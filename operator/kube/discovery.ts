// Which resources are cluster-scoped, from the API server's discovery documents (readable by every
// authenticated user through system:discovery). Loaded per API group on first need and kept for a
// while; a resource a group does not list is looked up again at most once per `retryMs`, so a CRD
// installed later is found without a request per question.
import type { KubeClient } from './client.ts';

export type Scope = 'Cluster' | 'Namespaced';

interface ResourceList {
  resources?: Array<{ name: string; namespaced: boolean }>;
}

export interface ResourceScopesOptions {
  /** How long a group's list is trusted. @default 10 minutes */
  ttlMs?: number;
  /** The least time between two loads of one group. @default 1 minute */
  retryMs?: number;
  now?: () => number;
}

export class ResourceScopes {
  private readonly groups = new Map<string, { loadedAt: number; scopes: Map<string, Scope> }>();
  private readonly ttlMs: number;
  private readonly retryMs: number;
  private readonly now: () => number;

  constructor(
    private readonly client: KubeClient,
    opts: ResourceScopesOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 600_000;
    this.retryMs = opts.retryMs ?? 60_000;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Makes sure these (group, resource) pairs are known, then answers synchronously. A group that
   * cannot be read (not served, discovery failing) answers undefined: the caller decides without it.
   */
  async resolver(pairs: Iterable<readonly [group: string, resource: string]>): Promise<(group: string, resource: string) => Scope | undefined> {
    const stale = new Set<string>();
    for (const [group, resource] of pairs) {
      if (group === '*' || resource === '*') continue;
      const known = this.groups.get(group);
      const age = known === undefined ? Infinity : this.now() - known.loadedAt;
      if (age > this.ttlMs || (!known?.scopes.has(resource) && age > this.retryMs)) stale.add(group);
    }
    await Promise.all([...stale].map((g) => this.load(g)));
    return (group, resource) => this.groups.get(group)?.scopes.get(resource);
  }

  private async load(group: string): Promise<void> {
    const scopes = new Map<string, Scope>();
    try {
      const paths = group === '' ? ['/api/v1'] : await this.groupVersionPaths(group);
      for (const path of paths) {
        const list = await this.client.request<ResourceList>('GET', path);
        for (const r of list.resources ?? []) if (!r.name.includes('/') && !scopes.has(r.name)) scopes.set(r.name, r.namespaced ? 'Namespaced' : 'Cluster');
      }
    } catch {
      // Not served (404) or failing: remembered as empty, asked again after retryMs.
    }
    this.groups.set(group, { loadedAt: this.now(), scopes });
  }

  /** The preferred version first, then the others (a resource may be served by an older one only). */
  private async groupVersionPaths(group: string): Promise<string[]> {
    const g = await this.client.request<{ preferredVersion?: { groupVersion: string }; versions?: Array<{ groupVersion: string }> }>('GET', `/apis/${group}`);
    const versions = [g.preferredVersion?.groupVersion, ...(g.versions ?? []).map((v) => v.groupVersion)].filter((v): v is string => v !== undefined);
    return [...new Set(versions)].map((gv) => `/apis/${gv}`);
  }
}
