// Who may grant what (api.md): a profile's grant (serviceAccount + permissions) is applied only when
// its author, as stamped at admission into spec.author, could write the same RBAC by hand. Asked of
// the API server as the author (SubjectAccessReview with user, groups, uid and extra): first the
// one-check shortcut Kubernetes itself honours (`escalate` on roles for inline rules, `bind` on a
// referenced ClusterRole), then each permission. The plan is pure; `decideGrant` runs it.
import { isDeepStrictEqual } from 'node:util';
import { GrantSchema, type ApiAccessProfileStatus, type Author, type Grant, type PolicyRule } from '../../crds/apiaccessprofile.ts';
import type { ResolvedProfile } from '../desired/profile.ts';
import { accessChecks, describeCheck, type AccessCheck, type Identity } from './access-verification.ts';

/** A grant past this many single checks is refused unless a shortcut holds: it would cost too many reviews. */
export const MAX_AUTHOR_CHECKS = 2000;

export type GrantRequest = Pick<Grant, 'serviceAccount' | 'permissions'>;

export type GrantVerdict =
  /** The requested grant is the one already in force: nothing new is granted. */
  | { kind: 'InForce' }
  | { kind: 'Accepted'; author: string }
  | { kind: 'Refused'; author: string; message: string }
  | { kind: 'AuthorUnknown'; message: string };

/** One group of checks that a single shortcut check can settle. */
export interface CheckGroup {
  /** For messages: "spec.permissions.rules" or "ClusterRole view". */
  what: string;
  /** One check that, when allowed, settles the whole group (escalate or bind). */
  shortcut: AccessCheck;
  /** Why the shortcut matters, for messages: "escalate roles in namespace tenant". */
  shortcutText: string;
  /** The single permissions, or undefined when a referenced ClusterRole does not exist. */
  checks: AccessCheck[] | undefined;
}

/** The grant in force as recorded in a profile's status, if it holds a well-formed one. */
export function recordedGrant(status: ApiAccessProfileStatus | undefined): Grant | undefined {
  const parsed = GrantSchema.safeParse(status?.grant);
  return parsed.success ? parsed.data : undefined;
}

export function requestedGrant(profile: ResolvedProfile): GrantRequest {
  return { serviceAccount: { ...profile.serviceAccount }, permissions: structuredClone(profile.permissions) };
}

export function sameGrant(inForce: Grant | undefined, requested: GrantRequest): boolean {
  if (inForce === undefined) return false;
  return isDeepStrictEqual(normalize(inForce), normalize(requested));
}

function normalize(g: GrantRequest): unknown {
  return { serviceAccount: { name: g.serviceAccount.name, create: g.serviceAccount.create }, permissions: { scope: g.permissions.scope, rules: g.permissions.rules, clusterRoles: g.permissions.clusterRoles } };
}

export function authorIdentity(author: Author): Identity {
  return {
    user: author.username,
    groups: author.groups ?? [],
    ...(author.uid ? { uid: author.uid } : {}),
    ...(author.extra ? { extra: author.extra } : {}),
    source: 'spec.author',
  };
}

/**
 * The checks that decide a grant, mirroring Kubernetes' escalation prevention for hand-written RBAC:
 * a Role/ClusterRole needs its rules held or `escalate`; a binding to a ClusterRole needs its rules
 * held or `bind` on it; each at the profile's scope (its namespace, or cluster-wide).
 */
export function checkPlan(namespace: string, request: GrantRequest, clusterRoleRules: ReadonlyMap<string, PolicyRule[] | undefined>): CheckGroup[] {
  const cluster = request.permissions.scope === 'Cluster';
  const ns = cluster ? undefined : namespace;
  const where = cluster ? 'cluster-wide' : `in namespace ${namespace}`;
  const rbac = (verb: string, resource: string, name?: string): AccessCheck => ({
    verb,
    group: 'rbac.authorization.k8s.io',
    resource,
    ...(name !== undefined ? { name } : {}),
    ...(ns !== undefined ? { namespace: ns } : {}),
  });
  const groups: CheckGroup[] = [];
  if (request.permissions.rules.length > 0) {
    const resource = cluster ? 'clusterroles' : 'roles';
    groups.push({ what: 'spec.permissions.rules', shortcut: rbac('escalate', resource), shortcutText: `escalate ${resource} ${where}`, checks: accessChecks(request.permissions.rules, ns) });
  }
  for (const role of request.permissions.clusterRoles) {
    const rules = clusterRoleRules.get(role);
    groups.push({
      what: `ClusterRole ${role}`,
      shortcut: rbac('bind', 'clusterroles', role),
      shortcutText: `bind clusterroles/${role} ${where}`,
      checks: rules === undefined ? undefined : accessChecks(rules, ns),
    });
  }
  return groups;
}

export type Review = (check: AccessCheck) => Promise<{ allowed: boolean }>;

/** Runs the plan as the author; stops at the first permission they lack. */
export async function judge(author: string, plan: readonly CheckGroup[], review: Review): Promise<GrantVerdict> {
  const total = plan.reduce((n, g) => n + (g.checks?.length ?? 0), 0);
  for (const group of plan) {
    if ((await review(group.shortcut)).allowed) continue;
    if (group.checks === undefined) {
      return { kind: 'Refused', author, message: `${author} may not grant ${group.what}: it does not exist, and only who may ${group.shortcutText} can bind a ClusterRole that does not exist` };
    }
    if (total > MAX_AUTHOR_CHECKS) {
      return {
        kind: 'Refused',
        author,
        message: `${author} may not ${group.shortcutText}, and ${group.what} expands to more than ${MAX_AUTHOR_CHECKS} permissions to check one by one (${total} in this profile); a profile this large needs an author who may ${group.shortcutText}`,
      };
    }
    for (const check of unique(group.checks)) {
      if (!(await review(check)).allowed) {
        return {
          kind: 'Refused',
          author,
          message: `${author} may not grant ${group.what}: they lack "${describeCheck(check)}" and may not ${group.shortcutText}`,
        };
      }
    }
  }
  return { kind: 'Accepted', author };
}

function unique(checks: AccessCheck[]): AccessCheck[] {
  return [...new Map(checks.map((c) => [JSON.stringify(c), c])).values()];
}
