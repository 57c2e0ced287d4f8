// Workload reconciler: keeps each labelled workload's pod template carrying exactly its profile's
// injection, and removes every injected field when the label or the profile goes away. Gather the
// facts, decide (workload-decision.ts, pure), apply: writes only when the workload does not already
// carry the injection; never forces a field another manager owns. A failed write (a field conflict
// included) is reported and retried with the key's backoff.
import type { Logger } from 'pino';
import { API_VERSION, FIELD_MANAGER, INJECTED_LABEL, KIND, KUBECONFIG_DIGEST_ANNOTATION, parseSpec, PROFILE_LABEL, type ApiAccessProfileObject } from '../../crds/apiaccessprofile.ts';
import { podTemplateInjection, type InjectionResult } from '../desired/pod-template.ts';
import { resolveProfile, type ResolvedProfile } from '../desired/profile.ts';
import { configHashOf, podTemplate, selectableContainers, workloadApplyConfig, type PodTemplate, type WorkloadKind } from '../desired/workload.ts';
import type { ListWatchCache } from '../kube/cache.ts';
import { isConflict, type KubeClient, type KubeObject } from '../kube/client.ts';
import type { ReconcileResult } from '../kube/queue.ts';
import type { BindingRegistry } from './bindings.ts';
import { Reason } from './conditions.ts';
import type { EventRecorder, InvolvedObject } from './events.ts';
import { recordedGrant } from './grant-decision.ts';
import { inspectKubeconfig } from './kubeconfig-inspection.ts';
import { contentDigest, type KubeconfigSources } from './kubeconfig-sources.ts';
import { RETRYING } from './profile-status.ts';
import { decideWorkload, needsStaleCount, type WorkloadDecision, type WorkloadEvent, type WorkloadFacts } from './workload-decision.ts';
import { parseWorkloadKey, type Workload, type WorkloadIndex } from './workload-index.ts';
import { labelSelectorQuery } from '../desired/selectors.ts';

export { PENDING_RECHECK_MS } from './workload-decision.ts';

/** The operator's environment variable naming the proxy sidecar's image. */
export const PROXY_IMAGE_ENV = 'APIACCESS_PROXY_IMAGE';

export interface WorkloadReconcilerDeps {
  client: KubeClient;
  workloads: WorkloadIndex;
  profiles: ListWatchCache<ApiAccessProfileObject & KubeObject>;
  kubeconfigSources: KubeconfigSources;
  bindings: BindingRegistry;
  events: EventRecorder;
  logger: Logger;
  /** Whether a ServiceAccount exists, from the manager's cache (a new one requeues its workloads). */
  serviceAccountExists: (namespace: string, name: string) => boolean;
  /** The proxy sidecar's image (the operator's own, APIACCESS_PROXY_IMAGE); without it Proxy profiles are not injected. */
  proxyImage?: string;
}

/**
 * After a write, the cache shows older versions of the workload until the watch delivers the
 * written one (a controller's own update may still be on its way): a decision on those would write
 * the same again. Like client-go's controller expectations, no second write is made until the
 * cache holds the written resourceVersion, for at most this long.
 */
export const WRITE_EXPECTATION_MS = 5_000;

/** Bounds the memos of resolved profiles and injections (both are recomputed when evicted). */
const MEMO_ENTRIES = 1_000;

export class WorkloadReconciler {
  private readonly profilesSeen = new Map<string, ResolvedProfile | undefined>();
  private readonly injections = new Map<string, InjectionResult>();
  /** Workload key -> the resourceVersion the last write produced, until the cache shows it. */
  private readonly written = new Map<string, { resourceVersion: string; at: number }>();

  constructor(private readonly d: WorkloadReconcilerDeps) {}

  async reconcile(key: string): Promise<ReconcileResult | void> {
    let facts: WorkloadFacts | undefined;
    let decision: WorkloadDecision;
    try {
      facts = await this.gather(key);
      decision = decideWorkload(facts);
      if (decision.write?.kind === 'inject') {
        facts.serviceAccountExists = facts.profile?.state !== 'usable' || this.d.serviceAccountExists(facts.namespace, facts.profile.resolved.serviceAccount.name);
        decision = decideWorkload(facts);
      }
      if (needsStaleCount(facts, decision)) {
        facts.stale = await this.stale(facts.workload, facts.kind, facts.profile?.state === 'usable' ? facts.profile.injection.hash : '');
        decision = decideWorkload(facts);
      }
    } catch (error) {
      // A read failed: the profile still learns that this workload was looked at, and why it is not bound.
      const { kind, namespace, name } = parseWorkloadKey(key);
      const known = facts ?? { kind, namespace, name, workload: this.d.workloads.get(kind, namespace, name) };
      return await this.failed(key, known, 'not checked', error);
    }
    const expected = this.written.get(key);
    if (expected !== undefined) {
      const waited = Date.now() - expected.at;
      if (facts.workload?.metadata.resourceVersion === expected.resourceVersion || facts.workload === undefined || waited >= WRITE_EXPECTATION_MS) this.written.delete(key);
      // The cache has not caught up with the last write: its decision is about an older version.
      else if (decision.write !== undefined) return { requeueAfterMs: WRITE_EXPECTATION_MS - waited };
    }
    return await this.apply(key, facts, decision);
  }

  /** Everything the decision needs that the caches hold (the rest is gathered when a decision asks). */
  private async gather(key: string): Promise<WorkloadFacts> {
    const { kind, namespace, name } = parseWorkloadKey(key);
    const workload = this.d.workloads.get(kind, namespace, name);
    const facts: WorkloadFacts = { kind, namespace, name, workload };
    const profileName = workload?.metadata.labels?.[PROFILE_LABEL];
    if (workload === undefined || profileName === undefined) return facts;
    const profile = this.d.profiles.get(namespace, profileName);
    if (profile === undefined) return { ...facts, profile: { state: 'missing' } };
    if (profile.metadata.deletionTimestamp !== undefined) return { ...facts, profile: { state: 'deleting' } };
    const resolved = this.resolved(profile, profileName, namespace);
    if (resolved === undefined) return { ...facts, profile: { state: 'invalid' } };
    if (resolved.proxy !== undefined && this.d.proxyImage === undefined) {
      return {
        ...facts,
        profile: { state: 'unconfigured', reason: Reason.ProxyImageUnknown, message: `auth Proxy needs the proxy image: the operator was started without ${PROXY_IMAGE_ENV} (the synthesized install sets it to the operator's own image)` },
      };
    }
    const k = resolved.kubeconfig;
    const sourceDigest = k?.source === 'ConfigMap' && resolved.auth === 'Kubeconfig' ? await this.sourceDigest(workload, namespace, k.name, k.key) : undefined;
    const containers = selectableContainers(workload);
    // Thousands of workloads of one profile share an injection: computed once per profile version and container names.
    const memoKey = JSON.stringify([profile.metadata.uid, profile.metadata.resourceVersion, containers, sourceDigest]);
    let injection = this.injections.get(memoKey);
    if (injection === undefined) {
      injection = podTemplateInjection(resolved, containers, {
        ...(sourceDigest === undefined ? {} : { sourceDigest }),
        ...(this.d.proxyImage === undefined ? {} : { proxyImage: this.d.proxyImage }),
      });
      this.injections.set(memoKey, injection);
      if (this.injections.size > MEMO_ENTRIES) this.injections.delete(this.injections.keys().next().value as string);
    }
    return { ...facts, profile: { state: 'usable', resolved, injection } };
  }

  /** The profile as its workloads are injected (the ServiceAccount of the grant in force), once per profile version. */
  private resolved(profile: ApiAccessProfileObject & KubeObject, name: string, namespace: string): ResolvedProfile | undefined {
    const memoKey = `${profile.metadata.uid ?? `${namespace}/${name}`}@${profile.metadata.resourceVersion ?? ''}`;
    if (this.profilesSeen.has(memoKey)) return this.profilesSeen.get(memoKey);
    const parsed = parseSpec(profile.spec);
    let resolved: ResolvedProfile | undefined;
    if (parsed.ok) {
      // The ServiceAccount of the grant in force: a refused change does not move the workloads either.
      const spec = resolveProfile({ name, namespace, spec: parsed.spec });
      const accepted = recordedGrant(profile.status);
      resolved = accepted === undefined ? spec : { ...spec, serviceAccount: { ...accepted.serviceAccount } };
    }
    this.profilesSeen.set(memoKey, resolved);
    if (this.profilesSeen.size > MEMO_ENTRIES) this.profilesSeen.delete(this.profilesSeen.keys().next().value as string);
    return resolved;
  }

  private async apply(key: string, facts: WorkloadFacts, decision: WorkloadDecision): Promise<ReconcileResult | void> {
    const { kind, namespace, name, workload } = facts;
    const profile = workload?.metadata.labels?.[PROFILE_LABEL];
    const ref = `${kind} ${namespace}/${name}`;
    const bind = (state: WorkloadDecision['binding']): void => {
      if (state === 'forget' || profile === undefined) {
        if (workload === undefined) this.d.bindings.forget(key);
        else this.d.bindings.delete(key, profile === undefined ? undefined : `${namespace}/${profile}`);
      } else {
        this.d.bindings.set(key, { namespace, profile, ref, ...state });
      }
    };
    const write = decision.write;
    if (write !== undefined && workload !== undefined) {
      const wref = { kind: kind as WorkloadKind, namespace, name };
      const injection = write.kind === 'inject' && facts.profile?.state === 'usable' ? facts.profile.injection.injection : undefined;
      try {
        const result = await this.d.client.apply(workloadApplyConfig(wref, write.kind === 'inject' ? (profile ?? '') : write.profile, injection), { fieldManager: FIELD_MANAGER, force: false });
        const written = result.metadata?.resourceVersion;
        if (written !== undefined && written !== workload.metadata.resourceVersion) this.written.set(key, { resourceVersion: written, at: Date.now() });
        if (this.written.size > 100_000) this.written.delete(this.written.keys().next().value as string);
      } catch (error) {
        return await this.failed(key, facts, write.kind === 'remove' ? 'not removed' : 'not injected', error);
      }
      this.d.logger.info({ workload: ref, profile: write.kind === 'inject' ? profile : write.profile }, write.kind === 'inject' ? `Injected access into ${kind}` : `Removed injected access from ${kind}`);
      await this.routineEvent(workload, write.kind === 'inject' ? (profile ?? '') : write.profile, write.event);
    }
    bind(decision.binding);
    if (workload !== undefined) for (const e of decision.events) await this.event(workload, e);
    return decision.requeueAfterMs === undefined ? undefined : { requeueAfterMs: decision.requeueAfterMs };
  }

  /** A write (or a read) failed: say so in the profile's counts (conflicted / failed) and retry with backoff. */
  private async failed(key: string, facts: WorkloadFacts, what: string, error: unknown): Promise<ReconcileResult> {
    const { kind, namespace, name, workload } = facts;
    const profile = workload?.metadata.labels?.[PROFILE_LABEL] ?? workload?.metadata.labels?.[INJECTED_LABEL];
    const detail = (error as Error).message.replace(/^.*?: /, '');
    const conflict = isConflict(error);
    const message = `${what}: ${detail}; ${RETRYING}`;
    if (profile !== undefined) this.d.bindings.set(key, { namespace, profile, ref: `${kind} ${namespace}/${name}`, state: conflict ? 'conflicted' : 'failed', message });
    if (workload !== undefined) await this.event(workload, { type: 'Warning', reason: conflict ? Reason.FieldConflict : Reason.ApplyFailed, message });
    const retryAfter = (error as { retryAfterMs?: unknown }).retryAfterMs;
    return { retry: { reason: message, ...(typeof retryAfter === 'number' ? { notBeforeMs: retryAfter } : {}) } };
  }

  /**
   * The digest of a user's kubeconfig ConfigMap, so that an edit rolls the workload out. An edit into
   * something that is not a usable kubeconfig rolls nothing out (the profile reports it): the
   * workload keeps the digest it carries.
   */
  private async sourceDigest(workload: Workload, namespace: string, name: string, key: string): Promise<string | undefined> {
    const configMap = await this.d.kubeconfigSources.get(namespace, name);
    const text = configMap?.data?.[key];
    if (text !== undefined && inspectKubeconfig(text).ok) return contentDigest(configMap, key);
    return podTemplate(workload)?.metadata?.annotations?.[KUBECONFIG_DIGEST_ANNOTATION];
  }

  /** Pods (or a CronJob's running Jobs) that still carry another config-hash than the current one. */
  private async stale(workload: Workload, kind: WorkloadKind, hash: string): Promise<number> {
    const ns = workload.metadata.namespace ?? '';
    const uid = (workload.metadata as { uid?: string }).uid;
    if (kind === 'CronJob') {
      // The CronJob's status lists its running Jobs: no LIST of every Job in the namespace.
      const active = ((workload as { status?: { active?: Array<{ name?: string }> } }).status?.active ?? []).flatMap((a) => (a.name ? [a.name] : []));
      let stale = 0;
      for (const job of active) {
        const j = await this.d.client.get<KubeObject & { spec?: { template?: PodTemplate }; status?: { active?: number } }>(`/apis/batch/v1/namespaces/${ns}/jobs/${job}`);
        if (j !== undefined && (j.status?.active ?? 0) > 0 && j.metadata.ownerReferences?.some((o) => o.uid === uid) && configHashOf(j.spec?.template) !== hash) stale += 1;
      }
      return stale;
    }
    const selector = (workload.spec as { selector?: Parameters<typeof labelSelectorQuery>[0] } | undefined)?.selector;
    const labelSelector = selector === undefined ? '' : labelSelectorQuery(selector);
    let stale = 0;
    let continueToken: string | undefined;
    do {
      const page: { items: Array<KubeObject & PodTemplate>; metadata?: { continue?: string } } = await this.d.client.request('GET', `/api/v1/namespaces/${ns}/pods`, {
        query: { labelSelector, limit: '500', ...(continueToken ? { continue: continueToken } : {}) },
      });
      stale += page.items.filter((p) => p.metadata.ownerReferences?.some((o) => o.uid === uid) && configHashOf(p) !== hash).length;
      continueToken = page.metadata?.continue || undefined;
    } while (continueToken !== undefined);
    return stale;
  }

  /** Injected/removed: on the workload, or summed up on its profile when many happen at once. */
  private async routineEvent(workload: Workload, profileName: string, e: WorkloadEvent): Promise<void> {
    const profile = this.d.profiles.get(workload.metadata.namespace ?? '', profileName);
    if (e.type !== 'Normal' || profile === undefined) return await this.event(workload, e);
    const on = { apiVersion: profile.apiVersion ?? API_VERSION, kind: profile.kind ?? KIND, name: profileName, namespace: workload.metadata.namespace ?? '', ...(profile.metadata.uid ? { uid: profile.metadata.uid } : {}) };
    await this.d.events.recordForWorkload(involved(workload), on, e.reason, e.message, e.reason === 'Removed' ? 'Removed the injected access from' : 'Injected access into');
  }

  private async event(workload: Workload, e: WorkloadEvent): Promise<void> {
    await this.d.events.record(involved(workload), e.type, e.reason, e.message);
  }
}

function involved(workload: Workload): InvolvedObject {
  const uid = (workload.metadata as { uid?: string }).uid;
  return {
    apiVersion: workload.apiVersion ?? '',
    kind: workload.kind ?? '',
    name: workload.metadata.name,
    namespace: workload.metadata.namespace ?? '',
    ...(uid !== undefined ? { uid } : {}),
  };
}
