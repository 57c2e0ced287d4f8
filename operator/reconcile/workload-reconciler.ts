// Workload reconciler: keeps each labelled workload's pod template carrying exactly its profile's
// injection, and removes every injected field when the label or the profile goes away. Writes only
// when the workload does not already carry the injection; never forces a field another manager owns.
import type { Logger } from 'pino';
import { FIELD_MANAGER, INJECTED_LABEL, parseSpec, PROFILE_LABEL, type ApiAccessProfileObject } from '../../crds/apiaccessprofile.ts';
import { podTemplateInjection } from '../desired/pod-template.ts';
import { kubeconfigPath, resolveProfile } from '../desired/profile.ts';
import { unreadableKubeconfig } from '../desired/readability.ts';
import {
  carriesInjection,
  configHashOf,
  containerNames,
  isWorkloadKind,
  podTemplate,
  replacesPodsOnTemplateChange,
  support,
  workloadApplyConfig,
  type PodTemplate,
  type WorkloadKind,
} from '../desired/workload.ts';
import type { ListWatchCache } from '../kube/cache.ts';
import { isConflict, type KubeClient, type KubeObject } from '../kube/client.ts';
import type { ReconcileResult } from '../kube/queue.ts';
import type { BindingRegistry } from './bindings.ts';
import { recordedGrant } from './grant-decision.ts';
import { Reason } from './conditions.ts';
import type { EventRecorder } from './events.ts';
import type { BindingState } from './profile-status.ts';
import { parseWorkloadKey, type Workload, type WorkloadIndex } from './workload-index.ts';

/** While Pods of a workload that does not replace them still carry an old injection, look again this often. */
export const PENDING_RECHECK_MS = 30_000;
const SERVICE_ACCOUNT_RECHECK_MS = 2_000;

export interface WorkloadReconcilerDeps {
  client: KubeClient;
  workloads: WorkloadIndex;
  profiles: ListWatchCache<ApiAccessProfileObject & KubeObject>;
  bindings: BindingRegistry;
  events: EventRecorder;
  logger: Logger;
}

export class WorkloadReconciler {
  constructor(private readonly d: WorkloadReconcilerDeps) {}

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const { kind, namespace, name } = parseWorkloadKey(key);
    const workload = this.d.workloads.get(kind, namespace, name);
    if (workload === undefined) {
      this.d.bindings.delete(key);
      return;
    }
    const profileName = workload.metadata.labels?.[PROFILE_LABEL];
    const injectedFor = workload.metadata.labels?.[INJECTED_LABEL];
    const ref = `${kind} ${namespace}/${name}`;

    const supported = support(workload);
    if (!supported.supported || !isWorkloadKind(kind)) {
      const reason = supported.supported ? `kind ${kind} is not supported` : supported.reason;
      if (profileName !== undefined) {
        this.d.bindings.set(key, { namespace, profile: profileName, ref, state: 'unsupported', message: reason });
        await this.event(workload, 'Warning', Reason.UnsupportedWorkload, `Not injected: ${reason}`);
      }
      return;
    }
    const wref = { kind, namespace, name };
    if (profileName === undefined) {
      this.d.bindings.delete(key);
      if (injectedFor !== undefined) await this.remove(workload, wref, injectedFor, `the label ${PROFILE_LABEL} was removed`);
      return;
    }

    const profile = this.d.profiles.get(namespace, profileName);
    if (profile === undefined || profile.metadata.deletionTimestamp !== undefined) {
      this.d.bindings.delete(key);
      if (injectedFor !== undefined) await this.remove(workload, wref, injectedFor, `ApiAccessProfile ${namespace}/${profileName} is gone`);
      if (profile === undefined) {
        await this.event(workload, 'Warning', Reason.ProfileNotFound, `The label ${PROFILE_LABEL}=${profileName} names no ApiAccessProfile in namespace ${namespace}`);
      }
      return;
    }
    const parsed = parseSpec(profile.spec);
    if (!parsed.ok) {
      // The profile reports its invalid spec; the workload keeps whatever it has until that is fixed.
      this.d.bindings.delete(key);
      return;
    }
    // The ServiceAccount of the grant in force: a refused change does not move the workloads either.
    const spec = resolveProfile({ name: profileName, namespace, spec: parsed.spec });
    const accepted = recordedGrant(profile.status);
    const resolved = accepted === undefined ? spec : { ...spec, serviceAccount: { ...accepted.serviceAccount } };
    const { injection, hash, missingContainers } = podTemplateInjection(resolved, containerNames(workload));
    const bind = (state: BindingState, message: string): void => this.d.bindings.set(key, { namespace, profile: profileName, ref, state, message });

    if (missingContainers.length > 0) {
      const message = `spec.containers names ${missingContainers.join(', ')}, which the pod template does not have (it has ${containerNames(workload).join(', ')})`;
      bind('containerNotFound', message);
      await this.event(workload, 'Warning', Reason.ContainerNotFound, message);
      return;
    }

    if (!carriesInjection(workload, profileName, injection)) {
      // The controller rejects Pods whose ServiceAccount does not exist yet; wait for the profile's.
      const sa = await this.d.client.get(`/api/v1/namespaces/${namespace}/serviceaccounts/${resolved.serviceAccount.name}`);
      if (sa === undefined) {
        bind('pending', `waiting for ServiceAccount ${resolved.serviceAccount.name}`);
        return { requeueAfterMs: SERVICE_ACCOUNT_RECHECK_MS };
      }
      try {
        await this.d.client.apply(workloadApplyConfig(wref, profileName, injection), { fieldManager: FIELD_MANAGER, force: false });
      } catch (error) {
        if (!isConflict(error)) throw error;
        const message = `not injected: ${(error as Error).message.replace(/^.*?: /, '')}`;
        bind('conflicted', message);
        await this.event(workload, 'Warning', Reason.FieldConflict, message);
        return;
      }
      this.d.logger.info({ workload: ref, profile: profileName, hash }, `Injected ${resolved.auth} access into ${kind}`);
      await this.event(workload, 'Normal', 'Injected', `Injected ${resolved.auth} access of ApiAccessProfile ${profileName} (config-hash ${hash})`);
    }

    const k = resolved.kubeconfig;
    const mounted = (injection.spec.containers ?? []).map((c) => c.name);
    const unreadable = k === undefined ? [] : unreadableKubeconfig(podTemplate(workload), mounted, kubeconfigPath(k), k.fileMode);
    if (unreadable.length > 0) {
      const message = unreadable.map((u) => u.message).join('; ');
      bind('unreadable', message);
      await this.event(workload, 'Warning', Reason.KubeconfigUnreadable, message);
      return;
    }

    if (!replacesPodsOnTemplateChange(workload)) {
      const stale = await this.stalePods(workload, kind, hash);
      if (stale > 0) {
        bind('pending', `${stale} ${kind === 'CronJob' ? 'running Job' : 'Pod'}${stale > 1 ? 's' : ''} without the current injection (config-hash ${hash}); ${kind} does not replace them on a template change`);
        return { requeueAfterMs: PENDING_RECHECK_MS };
      }
    }
    bind('bound', `carries config-hash ${hash}`);
  }

  private async remove(workload: Workload, wref: { kind: WorkloadKind; namespace: string; name: string }, profile: string, why: string): Promise<void> {
    await this.d.client.apply(workloadApplyConfig(wref, profile, undefined), { fieldManager: FIELD_MANAGER, force: false });
    this.d.logger.info({ workload: `${wref.kind} ${wref.namespace}/${wref.name}`, profile }, `Removed injected access from ${wref.kind}`);
    await this.event(workload, 'Normal', 'Removed', `Removed the access injected for ApiAccessProfile ${profile}: ${why}`);
  }

  /** Pods (or a CronJob's running Jobs) that still carry another config-hash than the current one. */
  private async stalePods(workload: Workload, kind: WorkloadKind, hash: string): Promise<number> {
    const ns = workload.metadata.namespace ?? '';
    const uid = (workload.metadata as { uid?: string }).uid;
    if (kind === 'CronJob') {
      const jobs = await this.d.client.request<{ items: Array<KubeObject & { spec?: { template?: PodTemplate }; status?: { active?: number } }> }>(
        'GET',
        `/apis/batch/v1/namespaces/${ns}/jobs`,
      );
      return jobs.items.filter(
        (j) => (j.status?.active ?? 0) > 0 && j.metadata.ownerReferences?.some((o) => o.uid === uid) && configHashOf(j.spec?.template) !== hash,
      ).length;
    }
    const selector = (workload.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector?.matchLabels ?? {};
    const labelSelector = Object.entries(selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const pods = await this.d.client.request<{ items: Array<KubeObject & PodTemplate> }>('GET', `/api/v1/namespaces/${ns}/pods`, {
      query: { labelSelector },
    });
    return pods.items.filter((p) => p.metadata.ownerReferences?.some((o) => o.uid === uid) && configHashOf(p) !== hash).length;
  }

  private async event(workload: Workload, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const uid = (workload.metadata as { uid?: string }).uid;
    await this.d.events.record(
      {
        apiVersion: workload.apiVersion ?? '',
        kind: workload.kind ?? '',
        name: workload.metadata.name,
        namespace: workload.metadata.namespace ?? '',
        ...(uid !== undefined ? { uid } : {}),
      },
      type,
      reason,
      message,
    );
  }
}
