// The workloads the operator caches: only those labelled apiaccess.dev/profile or carrying the
// operator's own apiaccess.dev/injected marker (two label-selected caches per kind: a selector
// cannot say "either label"), plus labelled Jobs and Pods, which are reported, never changed.
import type { Logger } from 'pino';
import { INJECTED_LABEL, PROFILE_LABEL } from '../../crds/apiaccessprofile.ts';
import { WORKLOAD_KINDS, type WorkloadKind, type WorkloadLike } from '../desired/workload.ts';
import { ListWatchCache } from '../kube/cache.ts';
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

  constructor(client: KubeClient, logger: Logger, namespace: string | undefined) {
    for (const kind of INDEXED_KINDS) {
      // Jobs and Pods are only reported, and never carry the operator's marker.
      const labels = kind === 'Job' || kind === 'Pod' ? [PROFILE_LABEL] : [PROFILE_LABEL, INJECTED_LABEL];
      for (const label of labels) {
        const cache = new ListWatchCache<Workload>({
          client,
          resource: RESOURCES[kind],
          ...(namespace !== undefined ? { namespace } : {}),
          labelSelector: label,
          name: `${kind}[${label}]`,
          logger,
        });
        this.caches.push({ kind, label, cache });
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
    const keys = new Set<string>();
    for (const { kind, cache } of this.caches) {
      for (const obj of cache.list(namespace)) {
        const labels = obj.metadata.labels ?? {};
        if (labels[PROFILE_LABEL] === profile || labels[INJECTED_LABEL] === profile) keys.add(workloadKey(kind, namespace, obj.metadata.name));
      }
    }
    return [...keys];
  }

  /** Whether any workload still carries the profile's injection (the finalizer waits for none). */
  injectedCount(namespace: string, profile: string): number {
    return this.caches
      .filter((c) => c.label === INJECTED_LABEL)
      .reduce((n, { cache }) => n + cache.list(namespace).filter((o) => o.metadata.labels?.[INJECTED_LABEL] === profile).length, 0);
  }

  allKeys(): string[] {
    const keys = new Set<string>();
    for (const { kind, cache } of this.caches) for (const o of cache.list()) keys.add(workloadKey(kind, o.metadata.namespace ?? '', o.metadata.name));
    return [...keys];
  }
}

function withKind(obj: Workload, kind: IndexedKind): Workload {
  const apiVersion = kind === 'Pod' ? 'v1' : kind === 'Job' ? 'batch/v1' : WORKLOAD_KINDS[kind].apiVersion;
  return obj.kind === kind && obj.apiVersion === apiVersion ? obj : { ...obj, apiVersion, kind };
}
