// AccessVerified: asks the API server's own authorizer (SubjectAccessReview) whether the profile's
// identity may do what the profile declares: each inline rule and each rule of each referenced
// ClusterRole. It proves the RBAC actually in force, not the operator's intent. A question is asked
// the way the workload's real request would be: a cluster-scoped resource without a namespace, even
// at Namespace scope (where a RoleBinding cannot grant it). An identity the operator cannot know
// (a Secret, an opaque token, files, exec plugins) is not checked as some other identity: Unknown.
import type { PolicyRule } from '../../crds/apiaccessprofile.ts';
import type { ResolvedProfile } from '../desired/profile.ts';
import type { KubeClient } from '../kube/client.ts';
import type { ResourceScopes } from '../kube/discovery.ts';
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

/** Why the workload's identity cannot be known to the operator (AccessVerified Unknown, NotInspected). */
export interface NotInspected {
  notInspected: string;
}

/**
 * The identity AccessVerified checks (api.md, Identity): the profile's ServiceAccount in
 * ServiceAccount and Generated mode, the kubeconfig's where the operator can read it, else none.
 */
export function identityFor(profile: ResolvedProfile, credentials: CredentialsObservation): Identity | NotInspected {
  switch (credentials.source) {
    case 'InCluster':
    case 'Generated':
    case 'Proxy':
      return serviceAccountIdentity(profile.namespace, profile.serviceAccount.name);
    case 'Secret':
      return { notInspected: `the identity in Secret ${credentials.name} is not inspected: the operator never reads Secrets` };
    case 'ConfigMap':
      if (!credentials.found || credentials.inspection === undefined || !credentials.inspection.ok) {
        return { notInspected: `the kubeconfig in ConfigMap ${credentials.name} could not be read (see CredentialsReady)` };
      }
      return kubeconfigIdentity(credentials.inspection.identity, credentials.name);
  }
}

function kubeconfigIdentity(identity: KubeconfigIdentity, configMap: string): Identity | NotInspected {
  switch (identity.kind) {
    case 'ServiceAccountToken':
      return { ...serviceAccountIdentity(identity.namespace, identity.serviceAccount), source: `the token in ConfigMap ${configMap}` };
    case 'ClientCertificate':
      return { user: identity.username, groups: [...identity.groups, 'system:authenticated'], source: `the client certificate in ConfigMap ${configMap}` };
    case 'Token':
      return { notInspected: `the token in ConfigMap ${configMap} is not a ServiceAccount token; only the API server knows whose it is` };
    case 'Unknown':
      return { notInspected: `ConfigMap ${configMap} presents ${identity.detail}` };
  }
}

/** Whether a resource is cluster-scoped (from discovery); undefined when the server does not serve it. */
export type ScopeOf = (group: string, resource: string) => 'Cluster' | 'Namespaced' | undefined;

/**
 * Expands rules into single (verb, group, resource[, name]) questions. With a namespace, a
 * cluster-scoped resource (per `scopeOf`) is still asked without one, as its real request is.
 */
export function accessChecks(rules: readonly PolicyRule[], namespace: string | undefined, scopeOf: ScopeOf = () => undefined): AccessCheck[] {
  const out: AccessCheck[] = [];
  for (const rule of rules) {
    for (const verb of rule.verbs) {
      for (const path of rule.nonResourceURLs ?? []) out.push({ verb, path });
      for (const group of rule.apiGroups ?? ['']) {
        for (const full of rule.resources ?? []) {
          const [resource = full, subresource] = full.split('/');
          const inNamespace = namespace !== undefined && scopeOf(group, resource) !== 'Cluster';
          const base: AccessCheck = { verb, group, resource, ...(subresource ? { subresource } : {}), ...(inNamespace ? { namespace } : {}) };
          const names = rule.resourceNames ?? [];
          if (names.length === 0) out.push(base);
          else for (const name of names) out.push({ ...base, name });
        }
      }
    }
  }
  return out;
}

/**
 * The questions to ask: every inline rule as its real request is asked (a cluster-scoped resource at
 * Namespace scope too, which is then denied: the author named it). A referenced ClusterRole bound by
 * a RoleBinding grants only its namespaced part, as Kubernetes defines it (`view` lists namespaces
 * and nodes metrics, say): its cluster-scoped resources and non-resource URLs are left out, by name.
 */
export function declaredChecks(
  inline: readonly PolicyRule[],
  referenced: readonly PolicyRule[],
  namespace: string | undefined,
  scopeOf?: ScopeOf,
): { checks: AccessCheck[]; outOfScope: string[] } {
  const fromRoles = accessChecks(referenced, namespace, scopeOf);
  const outside = namespace === undefined ? [] : fromRoles.filter((c) => c.namespace === undefined);
  const names = [...new Set(outside.map((c) => c.path ?? `${c.resource}${c.group ? `.${c.group}` : ''}`))];
  return { checks: [...accessChecks(inline, namespace, scopeOf), ...fromRoles.filter((c) => !outside.includes(c))], outOfScope: names };
}

function resourcePairs(rules: readonly PolicyRule[]): Array<[string, string]> {
  return rules.flatMap((r) => (r.apiGroups ?? ['']).flatMap((g) => (r.resources ?? []).map((res): [string, string] => [g, res.split('/')[0] ?? res])));
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
  /** Discovery, to ask about cluster-scoped resources without a namespace at Namespace scope. */
  scopes?: ResourceScopes;
  /** Asks one question (e.g. through a ReviewCache); a SubjectAccessReview per question when absent. */
  review?: (identity: Identity, check: AccessCheck) => Promise<{ allowed: boolean; reason?: string }>;
}

/** Reviews in flight at once: a role like `view` means hundreds of questions. */
const REVIEW_CONCURRENCY = 8;

export async function verifyAccess(client: KubeClient, input: VerifyInput): Promise<ConditionInput> {
  const type = ConditionType.AccessVerified;
  const { profile } = input;
  const identity = identityFor(profile, input.credentials);
  if ('notInspected' in identity) {
    return { type, status: 'Unknown', reason: Reason.NotInspected, message: `Not verified: ${identity.notInspected}; run \`apiaccess doctor\` in the workload to check its access` };
  }
  const missing = [...input.clusterRoleRules].filter(([, rules]) => rules === undefined).map(([name]) => name);
  if (missing.length > 0) {
    return { type, status: 'False', reason: Reason.ClusterRoleNotFound, message: `Cannot verify ClusterRole ${missing.join(', ')}: it does not exist` };
  }
  const namespace = profile.permissions.scope === 'Namespace' ? profile.namespace : undefined;
  const roleRules = [...input.clusterRoleRules.values()].flatMap((r) => r ?? []);
  const scopeOf = namespace !== undefined && input.scopes !== undefined ? await input.scopes.resolver(resourcePairs([...profile.permissions.rules, ...roleRules])) : undefined;
  const { checks, outOfScope } = declaredChecks(profile.permissions.rules, roleRules, namespace, scopeOf);
  const unique = [...new Map(checks.map((c) => [JSON.stringify(c), c])).values()];
  if (unique.length === 0 && input.credentials.source === 'Proxy') {
    return {
      type,
      status: 'False',
      reason: Reason.ProxyAllowsNothing,
      message: `The profile grants no permissions, so its proxy refuses every request but discovery (403); add spec.permissions.rules or spec.permissions.clusterRoles`,
    };
  }
  const review = input.review ?? ((who: Identity, check: AccessCheck) => reviewAccess(client, who, check));
  const asked = unique.slice(0, MAX_CHECKS);
  for (let i = 0; i < asked.length; i += REVIEW_CONCURRENCY) {
    const batch = asked.slice(i, i + REVIEW_CONCURRENCY);
    const verdicts = await Promise.all(batch.map((check) => review(identity, check)));
    const denied = verdicts.findIndex((v) => !v.allowed);
    if (denied === -1) continue;
    const check = batch[denied]!;
    const reason = verdicts[denied]!.reason;
    const why = reason ? ` (${reason})` : '';
    const scoped = namespace !== undefined && check.namespace === undefined && check.path === undefined;
    const hint = scoped ? `: ${check.resource} is cluster-scoped, which a RoleBinding (permissions.scope Namespace) cannot grant; use scope Cluster` : '';
    return { type, status: 'False', reason: Reason.AccessDenied, message: `${identity.user} (${identity.source}) may not ${describeCheck(check)}${why}${hint}` };
  }
  const notGranted = outOfScope.length === 0 ? '' : `; not asked: ${outOfScope.join(', ')} of the referenced ClusterRoles, which a RoleBinding does not grant`;
  const skipped = `${unique.length > MAX_CHECKS ? `; ${unique.length - MAX_CHECKS} more not checked` : ''}${notGranted}`;
  const what = unique.length === 0 ? 'nothing to verify: no rules or ClusterRoles declared' : `${Math.min(unique.length, MAX_CHECKS)} declared permission${unique.length === 1 ? '' : 's'} allowed`;
  return { type, status: 'True', reason: Reason.AccessAllowed, message: `${identity.user} (${identity.source}): ${what}${skipped}` };
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
