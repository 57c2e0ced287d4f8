// The workloads the operator caches: only those labelled apiaccess.dev/profile or carrying the
// operator's own apiaccess.dev/injected marker, plus labelled Jobs and Pods, which are reported,
// never changed. A selector cannot say "either label", so there are two caches per kind, disjoint:
// the labelled workloads, and those still injected but no longer labelled. A bound workload (both
// labels) is watched and held once; removing its label moves it from one cache to the other.
// Objects are slimmed of what no decision reads (managedFields, status but a CronJob's active Jobs).
import type { Logger } from 'pino';
import { INJECTED_LABEL, PROFILE_LABEL } from '../../crds/apiaccessprofile.ts';
import { WORKLOAD_KINDS, type WorkloadKind, type WorkloadLike } from '../desired/workload.ts';
import { ListWatchCache, slimObject } from '../kube/cache.ts';
import type { KubeClient, KubeObject } from '../kube/client.ts';
import { RESOURCES } from '../kube/resources.ts';

export type IndexedKind = WorkloadKind | 'Job' | 'Pod';
export type Workload = KubeObject & WorkloadLike;

export const INDEXED_KINDS: IndexedKind[] = [...(Object.keys(WORKLOAD_KINDS) as WorkloadKind[]), 'Job', 'Pod'];

export function workloadKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

export function parseWorkloadKey(key: string): { kind: IndexedKind; namespace: string; name: string } {
  const [kind, namespace, name] = key.split('/');
  return { kind: kind as IndexedKind, namespace: namespace ?? '', name: name ?? '' };
}

export class WorkloadIndex {
  readonly caches: Array<{ kind: IndexedKind; label: string; cache: ListWatchCache<Workload> }> = [];
  /** "namespace/profile" -> workload key -> how many caches hold it naming the profile (in either label). */
  private readonly byProfile = new Map<string, Map<string, number>>();

  constructor(client: KubeClient, logger: Logger, namespace: string | undefined) {
    for (const kind of INDEXED_KINDS) {
      // Jobs and Pods are only reported, and never carry the operator's marker.
      const selectors = kind === 'Job' || kind === 'Pod' ? [PROFILE_LABEL] : [PROFILE_LABEL, `${INJECTED_LABEL},!${PROFILE_LABEL}`];
      for (const label of selectors) {
        const cache = new ListWatchCache<Workload>({
          client,
          resource: RESOURCES[kind],
          ...(namespace !== undefined ? { namespace } : {}),
          labelSelector: label,
          name: `${kind}[${label}]`,
          logger,
          transform: (object) => slimWorkload(object, kind),
        });
        this.caches.push({ kind, label, cache });
        // Registered first: the index is up to date before the manager's handlers run.
        cache.on((e) => this.index(kind, e.old, e.type === 'DELETED' ? undefined : e.object));
      }
    }
  }

  /** The object from whichever of its kind's caches has it, with apiVersion/kind filled in. */
  get(kind: IndexedKind, namespace: string, name: string): Workload | undefined {
    for (const entry of this.caches) {
      if (entry.kind !== kind) continue;
      const found = entry.cache.get(namespace, name);
      if (found !== undefined) return withKind(found, kind);
    }
    return undefined;
  }

  /** Keys of every cached object naming the profile in either label. */
  keysFor(namespace: string, profile: string): string[] {
    return [...(this.byProfile.get(`${namespace}/${profile}`)?.keys() ?? [])];
  }

  private index(kind: IndexedKind, before: Workload | undefined, after: Workload | undefined): void {
    const object = after ?? before;
    if (object === undefined) return;
    const key = workloadKey(kind, object.metadata.namespace ?? '', object.metadata.name);
    const names = (o: Workload | undefined): Set<string> =>
      new Set([o?.metadata.labels?.[PROFILE_LABEL], o?.metadata.labels?.[INJECTED_LABEL]].filter((p): p is string => p !== undefined).map((p) => `${o?.metadata.namespace ?? ''}/${p}`));
    for (const profile of names(before)) {
      const keys = this.byProfile.get(profile);
      const count = (keys?.get(key) ?? 0) - 1;
      if (keys === undefined) continue;
      if (count > 0) keys.set(key, count);
      else keys.delete(key);
      if (keys.size === 0) this.byProfile.delete(profile);
    }
    for (const profile of names(after)) {
      const keys = this.byProfile.get(profile) ?? new Map<string, number>();
      keys.set(key, (keys.get(key) ?? 0) + 1);
      this.byProfile.set(profile, keys);
    }
  }

  /** Whether any workload still carries the profile's injection (the finalizer waits for none). */
  injectedCount(namespace: string, profile: string): number {
    return this.caches.reduce((n, { cache }) => n + cache.list(namespace).filter((o) => o.metadata.labels?.[INJECTED_LABEL] === profile).length, 0);
  }

  allKeys(): string[] {
    const keys = new Set<string>();
    for (const { kind, cache } of this.caches) for (const o of cache.list()) keys.add(workloadKey(kind, o.metadata.namespace ?? '', o.metadata.name));
    return [...keys];
  }
}

/** What the workload decisions read: the object without managedFields, and without status except a CronJob's active Jobs. */
export function slimWorkload(object: Workload, kind: IndexedKind): Workload {
  slimObject(object);
  const withStatus = object as Workload & { status?: { active?: unknown } };
  if (withStatus.status === undefined) return object;
  if (kind === 'CronJob' && withStatus.status.active !== undefined) withStatus.status = { active: withStatus.status.active };
  else delete withStatus.status;
  return object;
}

function withKind(obj: Workload, kind: IndexedKind): Workload {
  const apiVersion = kind === 'Pod' ? 'v1' : kind === 'Job' ? 'batch/v1' : WORKLOAD_KINDS[kind].apiVersion;
  return obj.kind === kind && obj.apiVersion === apiVersion ? obj : { ...obj, apiVersion, kind };
}
