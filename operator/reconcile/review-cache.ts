// SubjectAccessReview verdicts, asked once per RBAC state. What RBAC answers for one identity is
// decided by the bindings that name it (its user, one of its groups, or its ServiceAccount) and the
// roles those bindings reference: their resourceVersions are the identity's RBAC state. A verdict is
// reused while that state is unchanged, so a profile reconciled again (a workload bound, a status
// write) asks nothing, and a change to an unrelated role or binding asks nothing either.
//
// The API server's authorizer watches RBAC like the operator does, with its own lag: a denial asked
// within SETTLE_MS of a change of the state is not kept, and the caller re-asks after SETTLE_MS.
import { createHash } from 'node:crypto';
import type { KubeObject } from '../kube/client.ts';
import type { AccessCheck, Identity } from './access-verification.ts';

export const SETTLE_MS = 5_000;
/** Bounds memory: one entry per (identity, question). */
const MAX_ENTRIES = 50_000;

export interface RbacSubject {
  kind: string;
  name: string;
  namespace?: string;
}

export type BindingObject = KubeObject & { subjects?: RbacSubject[]; roleRef?: { kind: string; name: string } };

/** The cached RBAC objects the state is computed from. */
export interface RbacView {
  clusterRoleBindings: () => BindingObject[];
  roleBindings: () => BindingObject[];
  role: (kind: 'Role' | 'ClusterRole', namespace: string | undefined, name: string) => KubeObject | undefined;
}

export type Verdict = { allowed: boolean; reason?: string };
export type Review = (identity: Identity, check: AccessCheck) => Promise<Verdict>;

/** Whether a binding subject is this identity (its user, one of its groups, or its ServiceAccount). */
export function namesIdentity(subject: RbacSubject, bindingNamespace: string | undefined, identity: Pick<Identity, 'user' | 'groups'>): boolean {
  switch (subject.kind) {
    case 'User':
      return subject.name === identity.user;
    case 'Group':
      return identity.groups.includes(subject.name);
    case 'ServiceAccount':
      return `system:serviceaccount:${subject.namespace ?? bindingNamespace ?? ''}:${subject.name}` === identity.user;
    default:
      return false;
  }
}

/** The identity's RBAC state: a digest of the bindings naming it and the roles they reference, by resourceVersion. */
export function rbacState(view: RbacView, identity: Pick<Identity, 'user' | 'groups'>): string {
  const parts: string[] = [];
  for (const binding of [...view.clusterRoleBindings(), ...view.roleBindings()]) {
    const ns = binding.metadata.namespace;
    if (!(binding.subjects ?? []).some((s) => namesIdentity(s, ns, identity))) continue;
    const ref = binding.roleRef;
    const roleKind = ref?.kind === 'Role' ? 'Role' : 'ClusterRole';
    const role = ref === undefined ? undefined : view.role(roleKind, roleKind === 'Role' ? ns : undefined, ref.name);
    parts.push(`${ns ?? ''}/${binding.metadata.name}@${binding.metadata.resourceVersion ?? ''}>${roleKind}/${ref?.name ?? ''}@${role?.metadata.resourceVersion ?? 'missing'}`);
  }
  parts.sort();
  return createHash('sha256').update(parts.join('\n')).digest('base64url').slice(0, 22);
}

interface Entry {
  state: string;
  verdict: Verdict;
}

export class ReviewCache {
  private readonly verdicts = new Map<string, Entry>();
  /** When each state was first seen: a denial in a state younger than SETTLE_MS is not kept. */
  private readonly firstSeen = new Map<string, number>();
  /** Reviews sent to the API server (the rest were answered here). */
  asked = 0;

  constructor(
    private readonly view: RbacView,
    private readonly ask: Review,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A reviewer for one reconcile: it computes each identity's state once, answers from the cache
   * where it can, and tells afterwards whether a denial was too recent to trust (`unsettled`).
   */
  reviewer(): { review: Review; unsettled: () => boolean } {
    const states = new Map<string, string>();
    let unsettled = false;
    const review: Review = async (identity, check) => {
      const who = JSON.stringify([identity.user, [...identity.groups].sort(), identity.uid ?? '', identity.extra ?? {}]);
      let state = states.get(who);
      if (state === undefined) {
        state = rbacState(this.view, identity);
        states.set(who, state);
        if (!this.firstSeen.has(state)) this.firstSeen.set(state, this.now());
      }
      const key = `${who}${JSON.stringify(check)}`;
      const cached = this.verdicts.get(key);
      if (cached !== undefined && cached.state === state) return cached.verdict;
      this.asked += 1;
      const verdict = await this.ask(identity, check);
      const young = this.now() - (this.firstSeen.get(state) ?? 0) < SETTLE_MS;
      if (!verdict.allowed && young) {
        unsettled = true;
        this.verdicts.delete(key);
      } else {
        this.verdicts.set(key, { state, verdict });
        this.bound();
      }
      return verdict;
    };
    return { review, unsettled: () => unsettled };
  }

  private bound(): void {
    while (this.verdicts.size > MAX_ENTRIES) this.verdicts.delete(this.verdicts.keys().next().value as string);
    while (this.firstSeen.size > MAX_ENTRIES) this.firstSeen.delete(this.firstSeen.keys().next().value as string);
  }
}
