// Status conditions: exported PascalCase constants and the pure rules that keep metav1.Condition
// semantics (lastTransitionTime changes only when the status flips; observedGeneration on each).
import type { Condition } from '../../crds/apiaccessprofile.ts';

export const ConditionType = {
  Ready: 'Ready',
  RBACReady: 'RBACReady',
  CredentialsReady: 'CredentialsReady',
  WorkloadsBound: 'WorkloadsBound',
  AccessVerified: 'AccessVerified',
  CredentialsProtected: 'CredentialsProtected',
  ClientsCompatible: 'ClientsCompatible',
} as const;
export type ConditionTypeName = (typeof ConditionType)[keyof typeof ConditionType];

export const Reason = {
  // Ready
  Ready: 'Ready',
  NotReady: 'NotReady',
  InvalidSpec: 'InvalidSpec',
  Deleting: 'Deleting',
  // RBACReady
  RBACApplied: 'RBACApplied',
  ServiceAccountMissing: 'ServiceAccountMissing',
  ClusterRoleNotFound: 'ClusterRoleNotFound',
  ApplyFailed: 'ApplyFailed',
  RequesterMayNotGrant: 'RequesterMayNotGrant',
  AuthorUnknown: 'AuthorUnknown',
  // CredentialsReady
  InClusterToken: 'InClusterToken',
  KubeconfigGenerated: 'KubeconfigGenerated',
  KubeconfigValid: 'KubeconfigValid',
  KubeconfigNotFound: 'KubeconfigNotFound',
  KubeconfigKeyMissing: 'KubeconfigKeyMissing',
  KubeconfigMalformed: 'KubeconfigMalformed',
  SecretNotInspected: 'SecretNotInspected',
  ProxyConfigured: 'ProxyConfigured',
  ProxyImageUnknown: 'ProxyImageUnknown',
  // CredentialsProtected
  NoCredentialsInConfigMap: 'NoCredentialsInConfigMap',
  CredentialsInConfigMap: 'CredentialsInConfigMap',
  // WorkloadsBound
  AllBound: 'AllBound',
  NoWorkloads: 'NoWorkloads',
  RolloutPending: 'RolloutPending',
  FieldConflict: 'FieldConflict',
  UnsupportedWorkload: 'UnsupportedWorkload',
  ContainerNotFound: 'ContainerNotFound',
  KubeconfigUnreadable: 'KubeconfigUnreadable',
  ProfileNotFound: 'ProfileNotFound',
  // AccessVerified
  AccessAllowed: 'AccessAllowed',
  AccessDenied: 'AccessDenied',
  NotInspected: 'NotInspected',
  ProxyAllowsNothing: 'ProxyAllowsNothing',
  // ClientsCompatible
  AllClientsRotate: 'AllClientsRotate',
  TokenExpiresForReadOnceClients: 'TokenExpiresForReadOnceClients',
  TokenFileIgnored: 'TokenFileIgnored',
  // WorkloadsBound (Proxy mode and mounts)
  HostNetwork: 'HostNetwork',
  ProxyPortConflict: 'ProxyPortConflict',
  MountPathConflict: 'MountPathConflict',
} as const;
export type ReasonName = (typeof Reason)[keyof typeof Reason];

export interface ConditionInput {
  type: ConditionTypeName;
  status: 'True' | 'False' | 'Unknown';
  reason: ReasonName;
  message: string;
}

/** Merges the desired conditions into the existing ones, keeping lastTransitionTime unless the status flips. */
export function mergeConditions(existing: readonly Condition[] | undefined, desired: readonly ConditionInput[], generation: number, now: Date): Condition[] {
  return desired.map((d) => {
    const previous = existing?.find((c) => c.type === d.type);
    const lastTransitionTime = previous !== undefined && previous.status === d.status ? previous.lastTransitionTime : now.toISOString().replace(/\.\d+Z$/, 'Z');
    return { type: d.type, status: d.status, observedGeneration: generation, lastTransitionTime, reason: d.reason, message: d.message };
  });
}

/** The conditions whose status changed between two lists (for Events on each flip). */
export function flipped(before: readonly Condition[] | undefined, after: readonly Condition[]): Condition[] {
  return after.filter((c) => before?.find((b) => b.type === c.type)?.status !== c.status);
}

/** Ready is True when every listed condition is True; else it names the first that is not. */
export function readyCondition(parts: readonly ConditionInput[]): ConditionInput {
  const failing = parts.find((c) => c.status !== 'True');
  if (failing === undefined) return { type: ConditionType.Ready, status: 'True', reason: Reason.Ready, message: 'The profile is applied, its credentials are in place and every bound workload carries them' };
  return { type: ConditionType.Ready, status: failing.status === 'Unknown' ? 'Unknown' : 'False', reason: Reason.NotReady, message: `${failing.type} is ${failing.status} (${failing.reason}): ${failing.message}` };
}
