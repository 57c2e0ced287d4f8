// What the workload reconciler does with one labelled object, decided by an ordered chain of small
// named checks over one gathered input (cert-manager's gather -> decide -> apply). Pure: the
// reconciler gathers the facts, this decides, the reconciler writes.
import { PROFILE_LABEL, PROXY_CONTAINER } from '../../crds/apiaccessprofile.ts';
import type { InjectionResult } from '../desired/pod-template.ts';
import { kubeconfigPath, type ResolvedProfile } from '../desired/profile.ts';
import { injectionConflicts } from '../desired/injection-conflicts.ts';
import { unreadableKubeconfig } from '../desired/readability.ts';
import { carriesInjection, isWorkloadKind, podTemplate, replacesPodsOnTemplateChange, selectableContainers, support, type WorkloadKind } from '../desired/workload.ts';
import { Reason, type ReasonName } from './conditions.ts';
import type { BindingState } from './profile-status.ts';
import type { IndexedKind, Workload } from './workload-index.ts';

/** While Pods of a workload that does not replace them still carry an old injection, look again this often. */
export const PENDING_RECHECK_MS = 30_000;
export const SERVICE_ACCOUNT_RECHECK_MS = 2_000;

/** Kinds whose objects are made by a controller from a labelled template: the label is inherited. */
const INHERITING_KINDS: ReadonlySet<IndexedKind> = new Set(['Pod', 'Job', 'ReplicaSet']);

export interface WorkloadFacts {
  kind: IndexedKind;
  namespace: string;
  name: string;
  /** undefined: the object is gone from the caches. */
  workload: Workload | undefined;
  /** The profile its label names, when that profile exists and is usable. */
  profile?:
    | { state: 'missing' }
    | { state: 'deleting' }
    | { state: 'invalid' }
    /** The operator cannot inject this profile: e.g. Proxy mode without the proxy image configured. */
    | { state: 'unconfigured'; reason: ReasonName; message: string }
    | { state: 'usable'; resolved: ResolvedProfile; injection: InjectionResult };
  /** Only gathered when the injection is missing: whether its ServiceAccount exists. */
  serviceAccountExists?: boolean;
  /** Only gathered when carried by a kind that does not replace its Pods: Pods (Jobs) with an old hash. */
  stale?: number;
}

export interface WorkloadEvent {
  type: 'Normal' | 'Warning';
  reason: ReasonName | 'Injected' | 'Removed';
  message: string;
}

export type WorkloadDecision = {
  /** Which check decided, for logs and tests. */
  check: string;
  /** What the profile's counts see: a state, or nothing (`forget`). */
  binding: { state: BindingState; message: string } | 'forget';
  /** A write to make; its Event is recorded only once it succeeded. */
  write?: { kind: 'inject'; event: WorkloadEvent } | { kind: 'remove'; profile: string; event: WorkloadEvent };
  /** Recorded whatever the write does. */
  events: WorkloadEvent[];
  requeueAfterMs?: number;
};

type Check = (f: WorkloadFacts) => Omit<WorkloadDecision, 'check'> | undefined;

const labels = (f: WorkloadFacts): { profile: string | undefined; injectedFor: string | undefined } => ({
  profile: f.workload?.metadata.labels?.[PROFILE_LABEL],
  injectedFor: f.workload?.metadata.labels?.['apiaccess.dev/injected'],
});

/** Removing what was injected, when the object carries the operator's marker. */
function removal(f: WorkloadFacts, why: string): WorkloadDecision['write'] {
  const { injectedFor } = labels(f);
  if (injectedFor === undefined || !isWorkloadKind(f.kind)) return undefined;
  return { kind: 'remove', profile: injectedFor, event: { type: 'Normal', reason: 'Removed', message: `Removed the access injected for ApiAccessProfile ${injectedFor}: ${why}` } };
}

const CHECKS: Array<[string, Check]> = [
  ['Gone', (f) => (f.workload === undefined ? { binding: 'forget', events: [] } : undefined)],
  [
    // kustomize commonLabels and most charts copy the workload's labels into its pod template: the
    // ReplicaSets, Jobs and Pods its controller makes carry the label too. Their owner is the workload.
    'Inherited',
    (f) => {
      const owner = f.workload?.metadata.ownerReferences?.find((o) => o.controller === true);
      return owner !== undefined && INHERITING_KINDS.has(f.kind) ? { binding: 'forget', events: [] } : undefined;
    },
  ],
  [
    'Unsupported',
    (f) => {
      const supported = support(f.workload!);
      if (supported.supported && isWorkloadKind(f.kind)) return undefined;
      if (labels(f).profile === undefined) return { binding: 'forget', events: [] };
      const reason = supported.supported ? `kind ${f.kind} is not supported` : supported.reason;
      return { binding: { state: 'unsupported', message: reason }, events: [{ type: 'Warning', reason: Reason.UnsupportedWorkload, message: `Not injected: ${reason}` }] };
    },
  ],
  [
    'Unlabelled',
    (f) => {
      if (labels(f).profile !== undefined) return undefined;
      const write = removal(f, `the label ${PROFILE_LABEL} was removed`);
      return { binding: 'forget', events: [], ...(write ? { write } : {}) };
    },
  ],
  [
    'OperatorUnconfigured',
    (f) => {
      if (f.profile?.state !== 'unconfigured') return undefined;
      return { binding: { state: 'failed', message: f.profile.message }, events: [{ type: 'Warning', reason: f.profile.reason, message: `Not injected: ${f.profile.message}` }] };
    },
  ],
  [
    'ProfileUnusable',
    (f) => {
      const state = f.profile?.state ?? 'missing';
      if (state === 'usable') return undefined;
      const profile = labels(f).profile;
      if (state === 'invalid') return { binding: 'forget', events: [] }; // the profile reports it; the workload keeps what it has
      const write = removal(f, `ApiAccessProfile ${f.namespace}/${profile} is gone`);
      const events: WorkloadEvent[] =
        state === 'missing' ? [{ type: 'Warning', reason: Reason.ProfileNotFound, message: `The label ${PROFILE_LABEL}=${profile} names no ApiAccessProfile in namespace ${f.namespace}` }] : [];
      return { binding: 'forget', events, ...(write ? { write } : {}) };
    },
  ],
  [
    'ContainerNotFound',
    (f) => {
      const { injection } = usable(f);
      if (injection.missingContainers.length === 0) return undefined;
      const { containers, nativeSidecars } = selectableContainers(f.workload!);
      const has = [...containers, ...nativeSidecars.map((c) => `${c} (native sidecar)`)].join(', ');
      const message = `spec.containers names ${injection.missingContainers.join(', ')}, which the pod template does not have (it has ${has})`;
      return { binding: { state: 'containerNotFound', message }, events: [{ type: 'Warning', reason: Reason.ContainerNotFound, message }] };
    },
  ],
  [
    // Found before writing: a Pod on the host network, a port or a mount path already taken.
    'InjectionConflict',
    (f) => {
      const { resolved, injection } = usable(f);
      const conflicts = injectionConflicts(resolved, podTemplate(f.workload!), injection);
      const first = conflicts[0];
      if (first === undefined) return undefined;
      const message = conflicts.map((c) => c.message).join('; ');
      const state: BindingState = first.kind === 'HostNetwork' ? 'unsupported' : 'conflicted';
      return { binding: { state, message: `not injected: ${message}` }, events: [{ type: 'Warning', reason: Reason[first.kind], message: `Not injected: ${message}` }] };
    },
  ],
  [
    // The controller rejects Pods whose ServiceAccount does not exist yet: wait for the profile's.
    'ServiceAccountPending',
    (f) => {
      const { resolved } = usable(f);
      if (carried(f) || f.serviceAccountExists !== false) return undefined;
      return { binding: { state: 'pending', message: `waiting for ServiceAccount ${resolved.serviceAccount.name}` }, events: [], requeueAfterMs: SERVICE_ACCOUNT_RECHECK_MS };
    },
  ],
  [
    'Unreadable',
    (f) => {
      const { resolved, injection } = usable(f);
      const k = resolved.kubeconfig;
      const { spec } = injection.injection;
      const mounted = [...(spec.containers ?? []), ...(spec.initContainers ?? [])].map((c) => c.name).filter((c) => c !== PROXY_CONTAINER);
      const unreadable = k === undefined ? [] : unreadableKubeconfig(podTemplate(f.workload!), mounted, kubeconfigPath(k), k.fileMode);
      if (unreadable.length === 0) return undefined;
      const message = unreadable.map((u) => u.message).join('; ');
      return { binding: { state: 'unreadable', message }, events: [{ type: 'Warning', reason: Reason.KubeconfigUnreadable, message }], ...injectIfMissing(f) };
    },
  ],
  [
    'PodsPending',
    (f) => {
      const { injection } = usable(f);
      if (replacesPodsOnTemplateChange(f.workload!)) return undefined;
      const hash = injection.hash;
      const unit = f.kind === 'CronJob' ? 'running Job' : 'Pod';
      if (!carried(f)) {
        return { binding: { state: 'pending', message: `injected config-hash ${hash}; ${f.kind} does not replace its ${unit}s on a template change` }, events: [], ...injectIfMissing(f) };
      }
      const stale = f.stale ?? 0;
      if (stale === 0) return undefined;
      return {
        binding: { state: 'pending', message: `${stale} ${unit}${stale > 1 ? 's' : ''} without the current injection (config-hash ${hash}); ${f.kind} does not replace them on a template change` },
        events: [],
        requeueAfterMs: PENDING_RECHECK_MS,
      };
    },
  ],
  ['Bound', (f) => ({ binding: { state: 'bound', message: `carries config-hash ${usable(f).injection.hash}` }, events: [], ...injectIfMissing(f) })],
];

/** The first check that decides. */
export function decideWorkload(facts: WorkloadFacts): WorkloadDecision {
  for (const [check, decide] of CHECKS) {
    const decision = decide(facts);
    if (decision !== undefined) return { check, ...decision };
  }
  throw new Error('unreachable: the Bound check always decides');
}

function usable(f: WorkloadFacts): { resolved: ResolvedProfile; injection: InjectionResult } {
  if (f.profile?.state !== 'usable') throw new Error('checks after ProfileUnusable see a usable profile');
  return f.profile;
}

function carried(f: WorkloadFacts): boolean {
  const { injection } = usable(f);
  return carriesInjection(f.workload!, labels(f).profile ?? '', injection.injection);
}

function injectIfMissing(f: WorkloadFacts): Pick<WorkloadDecision, 'write'> {
  if (carried(f)) return {};
  const { resolved, injection } = usable(f);
  const profile = labels(f).profile ?? '';
  return {
    write: {
      kind: 'inject',
      event: { type: 'Normal', reason: 'Injected', message: `Injected ${resolved.auth} access of ApiAccessProfile ${profile} (config-hash ${injection.hash})` },
    },
  };
}

/**
 * Whether a decision of Bound rests on Pods the facts did not count yet: a workload kind that does
 * not replace its Pods on a template change (the reconciler counts them, then decides again).
 */
export function needsStaleCount(f: WorkloadFacts, decision: WorkloadDecision): f is WorkloadFacts & { kind: WorkloadKind; workload: Workload } {
  return decision.check === 'Bound' && decision.write === undefined && f.stale === undefined && f.workload !== undefined && !replacesPodsOnTemplateChange(f.workload);
}
