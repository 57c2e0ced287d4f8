// The profile's status as an ordered chain of small named checks over one gathered observation
// (cert-manager's gather -> decide -> write). Pure: the reconciler gathers, this decides.
import type { ApiAccessProfileStatus, AuthMode, Grant } from '../../crds/apiaccessprofile.ts';
import type { GrantVerdict } from './grant-decision.ts';
import type { KubeconfigInspection } from './kubeconfig-inspection.ts';
import { ConditionType, mergeConditions, readyCondition, Reason, type ConditionInput } from './conditions.ts';

export type CredentialsObservation =
  | { source: 'InCluster' }
  | { source: 'Generated'; configMap: string; applyError?: string }
  | { source: 'Proxy'; configMap: string; rulesConfigMap: string; port: number; rules: number; missingClusterRoles: string[]; applyError?: string }
  | { source: 'ConfigMap'; name: string; key: string; found: false }
  | { source: 'ConfigMap'; name: string; key: string; found: true; inspection: KubeconfigInspection | undefined }
  | { source: 'Secret'; name: string };

/**
 * `unreadable`: injected, but a container cannot read its kubeconfig (see desired/readability.ts).
 * `failed`: writing the injection failed for another reason than a field conflict; it is retried.
 */
export type BindingState = 'bound' | 'pending' | 'conflicted' | 'unsupported' | 'containerNotFound' | 'unreadable' | 'failed';

/** Said in every condition about a write that failed: the reconcile is retried with backoff. */
export const RETRYING = 'retrying with backoff';

export interface WorkloadBinding {
  /** e.g. Deployment team-a/agent */
  ref: string;
  state: BindingState;
  message: string;
}

export interface ProfileObservation {
  generation: number;
  auth: AuthMode;
  serviceAccountName: string;
  rbac: {
    /** The ServiceAccount does not exist and the profile does not create it. */
    serviceAccountMissing: boolean;
    /** An existing ServiceAccount the operator did not create, used as-is. */
    serviceAccountForeign: boolean;
    missingClusterRoles: string[];
    applyErrors: string[];
    objects: string[];
  };
  /** Whether the spec's grant may be applied (grant-decision.ts). */
  verdict: GrantVerdict;
  /** The grant in force after this reconcile: the accepted one, or the last accepted, or none. */
  grant?: Grant;
  credentials: CredentialsObservation;
  workloads: WorkloadBinding[];
  /** AccessVerified, when checked; omitted conditions are not part of Ready. */
  access?: ConditionInput;
  /** ClientsCompatible (Kubeconfig/Generated): a warning, not part of Ready. */
  compatibility?: ConditionInput;
}

export function rbacCondition(o: ProfileObservation): ConditionInput {
  const type = ConditionType.RBACReady;
  const v = o.verdict;
  if (v.kind === 'Refused' || v.kind === 'AuthorUnknown') {
    const kept =
      o.grant === undefined
        ? 'Nothing was granted for this change.'
        : `The grant accepted at generation ${o.grant.generation} (author ${o.grant.author}) stays in force.`;
    return { type, status: 'False', reason: v.kind === 'Refused' ? Reason.RequesterMayNotGrant : Reason.AuthorUnknown, message: `${v.message}. ${kept}` };
  }
  if (o.rbac.serviceAccountMissing) {
    return { type, status: 'False', reason: Reason.ServiceAccountMissing, message: `ServiceAccount ${o.serviceAccountName} does not exist and spec.serviceAccount.create is false` };
  }
  if (o.rbac.applyErrors.length > 0) return { type, status: 'False', reason: Reason.ApplyFailed, message: `${o.rbac.applyErrors.join('; ')}; ${RETRYING}` };
  if (o.rbac.missingClusterRoles.length > 0) {
    return {
      type,
      status: 'False',
      reason: Reason.ClusterRoleNotFound,
      message: `ClusterRole ${o.rbac.missingClusterRoles.join(', ')} named in spec.permissions.clusterRoles does not exist`,
    };
  }
  const foreign = o.rbac.serviceAccountForeign ? ` (existing ServiceAccount ${o.serviceAccountName} used as-is, not owned)` : '';
  const objects = o.rbac.objects.length > 0 ? o.rbac.objects.join(', ') : 'no RBAC objects (no rules or clusterRoles)';
  const author = o.grant === undefined ? '' : `; granted by ${o.grant.author}`;
  return { type, status: 'True', reason: Reason.RBACApplied, message: `Applied ${objects}${foreign}${author}` };
}

export function credentialsCondition(o: ProfileObservation): ConditionInput {
  const type = ConditionType.CredentialsReady;
  const c = o.credentials;
  switch (c.source) {
    case 'InCluster':
      return { type, status: 'True', reason: Reason.InClusterToken, message: `Workloads use the in-cluster token of ServiceAccount ${o.serviceAccountName}` };
    case 'Generated':
      if (c.applyError !== undefined) return { type, status: 'False', reason: Reason.ApplyFailed, message: `${c.applyError}; ${RETRYING}` };
      return { type, status: 'True', reason: Reason.KubeconfigGenerated, message: `ConfigMap ${c.configMap} holds a kubeconfig without credentials; the kubelet projects and rotates the token` };
    case 'Proxy':
      if (c.applyError !== undefined) return { type, status: 'False', reason: Reason.ApplyFailed, message: `${c.applyError}; ${RETRYING}` };
      return {
        type,
        status: 'True',
        reason: Reason.ProxyConfigured,
        message: `The proxy sidecar on 127.0.0.1:${c.port} alone holds the kubelet-rotated token and enforces ${c.rules} rule${c.rules === 1 ? '' : 's'} (ConfigMap ${c.rulesConfigMap}); ConfigMap ${c.configMap} holds the apps' kubeconfig, without credentials`,
      };
    case 'Secret':
      return {
        type,
        status: 'True',
        reason: Reason.SecretNotInspected,
        message: `Secret ${c.name} (spec.kubeconfig.name) is not read by the operator, which never reads Secrets; run \`apiaccess doctor\` in the workload to check it`,
      };
    case 'ConfigMap':
      if (!c.found) return { type, status: 'False', reason: Reason.KubeconfigNotFound, message: `ConfigMap ${c.name} (spec.kubeconfig.name) does not exist` };
      if (c.inspection === undefined) {
        return { type, status: 'False', reason: Reason.KubeconfigKeyMissing, message: `ConfigMap ${c.name} has no key "${c.key}" (spec.kubeconfig.key)` };
      }
      if (!c.inspection.ok) {
        return { type, status: 'False', reason: Reason.KubeconfigMalformed, message: `ConfigMap ${c.name} key "${c.key}": ${c.inspection.message}` };
      }
      return { type, status: 'True', reason: Reason.KubeconfigValid, message: `ConfigMap ${c.name} key "${c.key}" is a kubeconfig for ${c.inspection.server}` };
  }
}

/** Only for a user ConfigMap: a credential there is readable by anyone who may read ConfigMaps. */
export function protectionCondition(o: ProfileObservation): ConditionInput | undefined {
  const c = o.credentials;
  if (c.source !== 'ConfigMap' || !c.found || c.inspection === undefined || !c.inspection.ok) return undefined;
  const type = ConditionType.CredentialsProtected;
  if (c.inspection.credentials.length === 0) {
    return { type, status: 'True', reason: Reason.NoCredentialsInConfigMap, message: `ConfigMap ${c.name} holds no credential` };
  }
  return {
    type,
    status: 'False',
    reason: Reason.CredentialsInConfigMap,
    message: `ConfigMap ${c.name} key "${c.key}" holds a credential (${c.inspection.credentials.join(', ')}); move the kubeconfig to a Secret (spec.kubeconfig.source: Secret) or use source: Generated`,
  };
}

const BLOCKING: Array<[BindingState, ConditionInput['reason']]> = [
  ['failed', Reason.ApplyFailed],
  ['conflicted', Reason.FieldConflict],
  ['containerNotFound', Reason.ContainerNotFound],
  ['unreadable', Reason.KubeconfigUnreadable],
  ['unsupported', Reason.UnsupportedWorkload],
  ['pending', Reason.RolloutPending],
];

export function workloadsCondition(o: ProfileObservation): ConditionInput {
  const type = ConditionType.WorkloadsBound;
  for (const [state, reason] of BLOCKING) {
    const hit = o.workloads.filter((w) => w.state === state);
    if (hit.length === 0) continue;
    const more = hit.length > 1 ? ` (and ${hit.length - 1} more)` : '';
    return { type, status: 'False', reason, message: `${hit[0]?.ref}: ${hit[0]?.message}${more}` };
  }
  const bound = o.workloads.filter((w) => w.state === 'bound');
  if (bound.length === 0) {
    return { type, status: 'True', reason: Reason.NoWorkloads, message: 'No workload carries the label apiaccess.dev/profile for this profile yet' };
  }
  return { type, status: 'True', reason: Reason.AllBound, message: `${bound.length} workload${bound.length > 1 ? 's carry' : ' carries'} the current injection` };
}

export function profileStatus(o: ProfileObservation, existing: ApiAccessProfileStatus | undefined, now: Date): ApiAccessProfileStatus {
  const parts = [rbacCondition(o), credentialsCondition(o), workloadsCondition(o), ...(o.access ? [o.access] : [])];
  const protection = protectionCondition(o);
  // An identity the operator cannot inspect is not verified either way: that is not a reason to be unready.
  const decisive = parts.filter((c) => !(c.type === ConditionType.AccessVerified && c.reason === Reason.NotInspected));
  const desired = [readyCondition(decisive), ...parts, ...(protection ? [protection] : []), ...(o.compatibility ? [o.compatibility] : [])];
  const count = (state: BindingState): number => o.workloads.filter((w) => w.state === state).length;
  return {
    observedGeneration: o.generation,
    auth: o.auth,
    serviceAccountName: o.serviceAccountName,
    workloads: {
      bound: count('bound'),
      pending: count('pending'),
      unsupported: count('unsupported'),
      conflicted: count('conflicted'),
      containerNotFound: count('containerNotFound'),
      unreadable: count('unreadable'),
      failed: count('failed'),
    },
    ...(o.grant !== undefined ? { grant: o.grant } : {}),
    conditions: mergeConditions(existing?.conditions, desired, o.generation, now),
  };
}

/** Status for a spec the operator cannot parse: nothing else is decided until it is fixed. */
export function invalidSpecStatus(generation: number, message: string, existing: ApiAccessProfileStatus | undefined, now: Date): ApiAccessProfileStatus {
  const ready: ConditionInput = { type: ConditionType.Ready, status: 'False', reason: Reason.InvalidSpec, message };
  const kept = (existing?.conditions ?? []).filter((c) => c.type !== ConditionType.Ready);
  const status: ApiAccessProfileStatus = { ...existing, observedGeneration: generation, conditions: [...mergeConditions(existing?.conditions, [ready], generation, now), ...kept] };
  return status;
}
