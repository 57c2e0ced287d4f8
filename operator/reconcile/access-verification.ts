// AccessVerified: asks the API server's own authorizer (SubjectAccessReview) whether the profile's
// identity may do what the profile declares: each inline rule and each rule of each referenced
// ClusterRole. It proves the RBAC actually in force, not the operator's intent.
import type { PolicyRule } from '../../crds/apiaccessprofile.ts';
import type { ResolvedProfile } from '../desired/profile.ts';
import type { KubeClient } from '../kube/client.ts';
import { ConditionType, Reason, type ConditionInput } from './conditions.ts';
import type { KubeconfigIdentity } from './kubeconfig-inspection.ts';
import type { CredentialsObservation } from './profile-status.ts';

/** Enough to cover large aggregated roles; past it the rest is reported as not checked. */
export const MAX_CHECKS = 400;

export interface Identity {
  user: string;
  groups: string[];
  uid?: string;
  extra?: Record<string, string[]>;
  /** How the identity was found, for messages. */
  source: string;
}

export interface AccessCheck {
  verb: string;
  group?: string;
  resource?: string;
  subresource?: string;
  name?: string;
  path?: string;
  namespace?: string;
}

export function serviceAccountIdentity(namespace: string, name: string): Identity {
  return {
    user: `system:serviceaccount:${namespace}:${name}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
    source: `ServiceAccount ${namespace}/${name}`,
  };
}

/** The identity AccessVerified checks (api.md, Identity): the kubeconfig's where the operator can read it. */
export function identityFor(profile: ResolvedProfile, credentials: CredentialsObservation): Identity {
  const sa = serviceAccountIdentity(profile.namespace, profile.serviceAccount.name);
  if (credentials.source !== 'ConfigMap' || !credentials.found || credentials.inspection === undefined || !credentials.inspection.ok) return sa;
  return kubeconfigIdentity(credentials.inspection.identity, credentials.name) ?? sa;
}

function kubeconfigIdentity(identity: KubeconfigIdentity, configMap: string): Identity | undefined {
  switch (identity.kind) {
    case 'ServiceAccountToken':
      return { ...serviceAccountIdentity(identity.namespace, identity.serviceAccount), source: `the token in ConfigMap ${configMap}` };
    case 'ClientCertificate':
      return { user: identity.username, groups: [...identity.groups, 'system:authenticated'], source: `the client certificate in ConfigMap ${configMap}` };
    default:
      return undefined;
  }
}

/** Expands rules into single (verb, group, resource[, name]) questions, at most MAX_CHECKS. */
export function accessChecks(rules: readonly PolicyRule[], namespace: string | undefined): AccessCheck[] {
  const out: AccessCheck[] = [];
  for (const rule of rules) {
    for (const verb of rule.verbs) {
      for (const path of rule.nonResourceURLs ?? []) out.push({ verb, path });
      for (const group of rule.apiGroups ?? ['']) {
        for (const full of rule.resources ?? []) {
          const [resource = full, subresource] = full.split('/');
          const base: AccessCheck = { verb, group, resource, ...(subresource ? { subresource } : {}), ...(namespace ? { namespace } : {}) };
          const names = rule.resourceNames ?? [];
          if (names.length === 0) out.push(base);
          else for (const name of names) out.push({ ...base, name });
        }
      }
    }
  }
  return out;
}

export function describeCheck(c: AccessCheck): string {
  if (c.path !== undefined) return `${c.verb} ${c.path}`;
  const resource = `${c.resource}${c.subresource ? `/${c.subresource}` : ''}${c.group ? `.${c.group}` : ''}`;
  return `${c.verb} ${resource}${c.name ? ` ${c.name}` : ''}${c.namespace ? ` in namespace ${c.namespace}` : ' cluster-wide'}`;
}

export interface VerifyInput {
  profile: ResolvedProfile;
  credentials: CredentialsObservation;
  /** Rules of the referenced ClusterRoles, undefined for one that does not exist. */
  clusterRoleRules: Map<string, PolicyRule[] | undefined>;
}

export async function verifyAccess(client: KubeClient, input: VerifyInput): Promise<ConditionInput> {
  const type = ConditionType.AccessVerified;
  const { profile } = input;
  const identity = identityFor(profile, input.credentials);
  const missing = [...input.clusterRoleRules].filter(([, rules]) => rules === undefined).map(([name]) => name);
  if (missing.length > 0) {
    return { type, status: 'False', reason: Reason.ClusterRoleNotFound, message: `Cannot verify ClusterRole ${missing.join(', ')}: it does not exist` };
  }
  const namespace = profile.permissions.scope === 'Namespace' ? profile.namespace : undefined;
  const checks = [
    ...accessChecks(profile.permissions.rules, namespace),
    ...[...input.clusterRoleRules.values()].flatMap((rules) => accessChecks(rules ?? [], namespace)),
  ];
  const unique = [...new Map(checks.map((c) => [JSON.stringify(c), c])).values()];
  for (const check of unique.slice(0, MAX_CHECKS)) {
    const allowed = await reviewAccess(client, identity, check);
    if (!allowed.allowed) {
      const why = allowed.reason ? ` (${allowed.reason})` : '';
      return { type, status: 'False', reason: Reason.AccessDenied, message: `${identity.user} (${identity.source}) may not ${describeCheck(check)}${why}` };
    }
  }
  const skipped = unique.length > MAX_CHECKS ? `; ${unique.length - MAX_CHECKS} more not checked` : '';
  const note = input.credentials.source === 'Secret' ? ` (the identity in Secret ${input.credentials.name} is not inspected; run apiaccess doctor in the workload)` : '';
  const what = unique.length === 0 ? 'nothing to verify: no rules or ClusterRoles declared' : `${Math.min(unique.length, MAX_CHECKS)} declared permission${unique.length === 1 ? '' : 's'} allowed`;
  return { type, status: 'True', reason: Reason.AccessAllowed, message: `${identity.user} (${identity.source}): ${what}${skipped}${note}` };
}

/** One SubjectAccessReview: may `identity` do `check`? The whole authorizer chain answers. */
export async function reviewAccess(client: KubeClient, identity: Identity, check: AccessCheck): Promise<{ allowed: boolean; reason?: string }> {
  const spec =
    check.path !== undefined
      ? { nonResourceAttributes: { path: check.path, verb: check.verb } }
      : {
          resourceAttributes: {
            verb: check.verb,
            group: check.group,
            resource: check.resource,
            ...(check.subresource ? { subresource: check.subresource } : {}),
            ...(check.name ? { name: check.name } : {}),
            ...(check.namespace ? { namespace: check.namespace } : {}),
          },
        };
  const review = await client.request<{ status?: { allowed?: boolean; reason?: string; evaluationError?: string } }>(
    'POST',
    '/apis/authorization.k8s.io/v1/subjectaccessreviews',
    {
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: identity.user,
          groups: identity.groups,
          ...(identity.uid ? { uid: identity.uid } : {}),
          ...(identity.extra && Object.keys(identity.extra).length > 0 ? { extra: identity.extra } : {}),
          ...spec,
        },
      },
    },
  );
  const reason = review.status?.reason || review.status?.evaluationError;
  return { allowed: review.status?.allowed === true, ...(reason ? { reason } : {}) };
}
