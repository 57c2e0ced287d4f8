// Profile reconciler: the ServiceAccount, RBAC and generated kubeconfig of each ApiAccessProfile,
// its finalizer, and its status. Gather -> decide (profile-status.ts, pure) -> write only what changed.
// A write that fails becomes status (ApplyFailed, "retrying") and a retry of the key with backoff.
// Everything it reads comes from the manager's caches (owned objects, ServiceAccounts, RBAC) and
// its review verdicts from a ReviewCache: reconciling a converged profile sends no request at all.
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import {
  API_VERSION,
  FIELD_MANAGER,
  FINALIZER,
  KIND,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  OWNER_NAME_LABEL,
  OWNER_NAMESPACE_LABEL,
  parseSpec,
  type ApiAccessProfileObject,
  type Author,
  type Condition,
  type Grant,
  type ApiAccessProfileStatus,
  type PolicyRule,
} from '../../crds/apiaccessprofile.ts';
import { resolveProfile, type ResolvedProfile } from '../desired/profile.ts';
import { desiredObjects } from '../desired/owned-objects.ts';
import { proxyRules } from '../desired/proxy.ts';
import { clientCompatibility } from './client-compatibility.ts';
import { contains } from '../desired/subset.ts';
import type { ListWatchCache } from '../kube/cache.ts';
import { isForbidden, type KubeClient, type KubeObject } from '../kube/client.ts';
import type { ResourceScopes } from '../kube/discovery.ts';
import type { ReconcileResult } from '../kube/queue.ts';
import { RESOURCES, collectionPath, objectPath, type ResourceRef } from '../kube/resources.ts';
import { AUTHOR_POLICY } from '../desired/author-policies.ts';
import { verifyAccess, type Identity } from './access-verification.ts';
import { SETTLE_MS, type ReviewCache } from './review-cache.ts';
import { authorIdentity, checkPlan, judge, recordedGrant, requestedGrant, sameGrant, type GrantRequest, type GrantVerdict } from './grant-decision.ts';
import type { BindingRegistry } from './bindings.ts';
import { ConditionType, flipped, Reason } from './conditions.ts';
import type { EventRecorder, InvolvedObject } from './events.ts';
import { inspectKubeconfig } from './kubeconfig-inspection.ts';
import type { KubeconfigSources } from './kubeconfig-sources.ts';
import { invalidSpecStatus, profileStatus, type CredentialsObservation, type ProfileObservation } from './profile-status.ts';
import type { WorkloadIndex } from './workload-index.ts';

export type Profile = ApiAccessProfileObject & KubeObject;

export interface ProfileReconcilerDeps {
  client: KubeClient;
  /** A referenced ClusterRole's rules from the cache, undefined when it does not exist. */
  clusterRoles: (name: string) => PolicyRule[] | undefined;
  /** What is wrong with the admission policies that stamp authors (empty when intact). */
  guardProblems: () => string[];
  /** Review verdicts per RBAC state (AccessVerified and the author's rights). */
  reviews: ReviewCache;
  /** The RBAC state of an identity: a cached author decision is valid while it is unchanged. */
  rbacState: (identity: Pick<Identity, 'user' | 'groups'>) => string;
  /** An object the operator may own, from the caches (ServiceAccounts, RBAC, its ConfigMaps). */
  cached: (kind: OwnedKind | 'ServiceAccount', namespace: string | undefined, name: string) => KubeObject | undefined;
  /** The cached objects of a kind labelled as created for this profile. */
  ownedBy: (kind: OwnedKind, profile: { namespace: string; name: string }) => KubeObject[];
  profiles: ListWatchCache<Profile>;
  /** The users' kubeconfig ConfigMaps profiles reference, watched by name. */
  kubeconfigSources: KubeconfigSources;
  /** Discovery: which resources are cluster-scoped (AccessVerified asks about those without a namespace). */
  scopes?: ResourceScopes;
  workloads: WorkloadIndex;
  bindings: BindingRegistry;
  events: EventRecorder;
  logger: Logger;
  now?: () => Date;
}

type Desired = KubeObject & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };

/** Writes that failed in one reconcile: reported in status, then retried no sooner than the server asked. */
interface WriteFailures {
  applyErrors: string[];
  objects: string[];
  retryAfterMs?: number;
}

export type OwnedKind = 'Role' | 'RoleBinding' | 'ConfigMap' | 'ClusterRole' | 'ClusterRoleBinding';

/** A status change that only recounts workloads is written at most this often per profile. */
export const COUNT_WRITE_INTERVAL_MS = 1_000;

// Objects the operator creates for profiles, found by their labels for cleanup of stale ones.
const OWNED_KINDS: Array<{ kind: OwnedKind; resource: ResourceRef; namespaced: boolean }> = [
  { kind: 'Role', resource: RESOURCES.Role, namespaced: true },
  { kind: 'RoleBinding', resource: RESOURCES.RoleBinding, namespaced: true },
  { kind: 'ConfigMap', resource: RESOURCES.ConfigMap, namespaced: true },
  { kind: 'ClusterRole', resource: RESOURCES.ClusterRole, namespaced: false },
  { kind: 'ClusterRoleBinding', resource: RESOURCES.ClusterRoleBinding, namespaced: false },
];

/** Bounds the memory of author decisions (one per profile change and RBAC state). */
const MAX_CACHED_DECISIONS = 10_000;

export class ProfileReconciler {
  private readonly decisions = new Map<string, { rbacState: string; verdict: GrantVerdict }>();
  private readonly undecided = new Set<string>();
  /** When each profile's status was last written (count-only changes wait COUNT_WRITE_INTERVAL_MS). */
  private readonly statusWritten = new Map<string, number>();

  constructor(private readonly d: ProfileReconcilerDeps) {}

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const [namespace = '', name = ''] = key.split('/');
    const profile = this.d.profiles.get(namespace, name);
    if (profile === undefined) {
      this.undecided.delete(key);
      this.statusWritten.delete(key);
      return;
    }
    if (profile.metadata.deletionTimestamp !== undefined) return this.finalize(profile);
    if (!(profile.metadata.finalizers ?? []).includes(FINALIZER)) await this.setFinalizer(profile, true);

    const generation = profile.metadata.generation ?? 0;
    const parsed = parseSpec(profile.spec);
    if (!parsed.ok) {
      await this.writeStatus(profile, invalidSpecStatus(generation, `Invalid spec: ${parsed.message}`, profile.status, this.now()));
      await this.event(profile, 'Warning', Reason.InvalidSpec, `Invalid spec: ${parsed.message}`);
      return;
    }
    const resolved = resolveProfile({ name, namespace, uid: profile.metadata.uid ?? '', spec: parsed.spec });
    const clusterRoleRules = this.clusterRoleRules(resolved.permissions.clusterRoles);
    const verdict = await this.decide(key, profile, resolved, parsed.spec.author, clusterRoleRules);
    const grant = grantInForce(verdict, recordedGrant(profile.status), resolved, generation);
    // Only a grant whose author was verified is applied; without one, RBAC is left exactly as it is.
    const effective = grant === undefined ? undefined : withGrant(resolved, grant);
    // The grant in force may reference other ClusterRoles than the (refused) spec.
    const effectiveRules = effective === undefined ? clusterRoleRules : this.clusterRoleRules(effective.permissions.clusterRoles);
    const failures: WriteFailures = { applyErrors: [], objects: [] };
    const rbac = effective === undefined ? untouchedRbac() : await this.applyRbac(effective, effectiveRules, failures);
    const credentials = await this.applyCredentials(resolved, failures, { profile: effective, clusterRoleRules: effectiveRules });
    await this.deleteStale(effective ?? resolved, { rbac: effective !== undefined }, failures);
    const observation: ProfileObservation = {
      generation,
      auth: resolved.auth,
      serviceAccountName: (effective ?? resolved).serviceAccount.name,
      verdict,
      ...(grant !== undefined ? { grant } : {}),
      rbac,
      credentials,
      workloads: [],
    };
    const compatibility = clientCompatibility(resolved, credentials);
    if (compatibility !== undefined) observation.compatibility = compatibility;
    // Asked of the API server's authorizer after applying: it proves the RBAC in force, whoever owns it.
    // Verdicts come from the ReviewCache while the identity's RBAC state is unchanged.
    let recheckMs: number | undefined;
    if (effective !== undefined) {
      const scopes = this.d.scopes !== undefined ? { scopes: this.d.scopes } : {};
      const reviewer = this.d.reviews.reviewer();
      observation.access = await verifyAccess(this.d.client, { profile: effective, credentials, clusterRoleRules: effectiveRules, review: reviewer.review, ...scopes });
      // A denial right after an RBAC change may be the authorizer's lag: asked again once it settled.
      if (reviewer.unsettled()) recheckMs = SETTLE_MS;
    }
    // Counts from workloads not yet reconciled by this process (just started, or just labelled) are
    // partial: the registry requeues the profile once the last of them reports.
    // Read after every await above, so that the counts and the check describe the same moment.
    if (this.d.bindings.allSeen(this.d.workloads.keysFor(namespace, name))) {
      observation.workloads = this.d.bindings.forProfile(namespace, name);
      const wait = await this.writeStatus(profile, profileStatus(observation, profile.status, this.now()));
      if (wait !== undefined) recheckMs = Math.min(recheckMs ?? wait, wait);
    }
    if (failures.applyErrors.length === 0) return recheckMs === undefined ? undefined : { requeueAfterMs: recheckMs };
    return { retry: { reason: failures.applyErrors.join('; '), ...(failures.retryAfterMs !== undefined ? { notBeforeMs: failures.retryAfterMs } : {}) } };
  }

  /** Keys of profiles whose last decision refused their grant or found no author: RBAC changes re-check them. */
  undecidedKeys(): string[] {
    return [...this.undecided];
  }

  /**
   * Whether the spec's grant may be applied: it is the one in force, or its stamped author may grant
   * it (asked once per change and RBAC state, see `decisions`).
   */
  private async decide(key: string, profile: Profile, resolved: ResolvedProfile, author: Author | undefined, clusterRoleRules: Map<string, PolicyRule[] | undefined>): Promise<GrantVerdict> {
    const requested = requestedGrant(resolved);
    const verdict = await this.judgeAuthor(profile, resolved, requested, author, clusterRoleRules);
    if (verdict.kind === 'Refused' || verdict.kind === 'AuthorUnknown') this.undecided.add(key);
    else this.undecided.delete(key);
    return verdict;
  }

  private async judgeAuthor(
    profile: Profile,
    resolved: ResolvedProfile,
    requested: GrantRequest,
    author: Author | undefined,
    clusterRoleRules: Map<string, PolicyRule[] | undefined>,
  ): Promise<GrantVerdict> {
    if (sameGrant(recordedGrant(profile.status), requested)) return { kind: 'InForce' };
    const problems = this.d.guardProblems();
    if (problems.length > 0) {
      return {
        kind: 'AuthorUnknown',
        message: `The author of this change is unknown: the admission policies that record it are not in place (${problems.join('; ')}). Install them with the operator (manifests/dist/operator.k8s.yaml; Kubernetes 1.36 or newer), then re-apply the profile`,
      };
    }
    if (author === undefined) {
      return {
        kind: 'AuthorUnknown',
        message: `spec.author is not set: the profile was last changed before admission policy ${AUTHOR_POLICY} was in place. Re-apply it (kubectl apply) so that admission records you as its author`,
      };
    }
    const cacheKey = JSON.stringify([resolved.namespace, author, requested, [...clusterRoleRules]]);
    const identity = authorIdentity(author);
    const rbacState = this.d.rbacState(identity);
    const cached = this.decisions.get(cacheKey);
    if (cached !== undefined && cached.rbacState === rbacState) return cached.verdict;
    const reviewer = this.d.reviews.reviewer();
    const verdict = await judge(author.username, checkPlan(resolved.namespace, requested, clusterRoleRules), (check) => reviewer.review(identity, check));
    // A refusal right after the author's RBAC changed is decided again (the authorizer may lag).
    if (!reviewer.unsettled()) this.decisions.set(cacheKey, { rbacState, verdict });
    if (this.decisions.size > MAX_CACHED_DECISIONS) this.decisions.delete(this.decisions.keys().next().value as string);
    const subject = `${profile.metadata.namespace}/${profile.metadata.name}`;
    if (verdict.kind === 'Accepted') this.d.logger.info({ profile: subject, author: author.username }, 'Accepted grant of ApiAccessProfile');
    else this.d.logger.warn({ profile: subject, author: author.username, reason: verdict.kind === 'Refused' ? verdict.message : '' }, 'Refused grant of ApiAccessProfile');
    return verdict;
  }

  private clusterRoleRules(names: readonly string[]): Map<string, PolicyRule[] | undefined> {
    return new Map(names.map((role) => [role, this.d.clusterRoles(role)]));
  }

  private now(): Date {
    return this.d.now?.() ?? new Date();
  }

  private async applyRbac(profile: ResolvedProfile, clusterRoleRules: Map<string, PolicyRule[] | undefined>, failures: WriteFailures): Promise<ProfileObservation['rbac']> {
    const out = { serviceAccountMissing: false, serviceAccountForeign: false, missingClusterRoles: [] as string[], applyErrors: [] as string[], objects: [] as string[] };
    const desired = desiredObjects(profile).filter((o) => o.kind !== 'ConfigMap');
    const existingSa = this.d.cached('ServiceAccount', profile.namespace, profile.serviceAccount.name);
    const sa = desired.find((o) => o.kind === 'ServiceAccount');
    if (sa === undefined && existingSa === undefined) out.serviceAccountMissing = true;
    const written: WriteFailures = { applyErrors: out.applyErrors, objects: out.objects };
    for (const object of desired) {
      if (object !== sa) await this.ensure(object, undefined, written);
      else if (existingSa !== undefined && !createdFor(existingSa, profile)) out.serviceAccountForeign = true;
      else await this.ensure(object, existingSa, written);
    }
    for (const role of profile.permissions.clusterRoles) if (clusterRoleRules.get(role) === undefined) out.missingClusterRoles.push(role);
    failures.applyErrors.push(...written.applyErrors);
    if (written.retryAfterMs !== undefined) failures.retryAfterMs = Math.max(failures.retryAfterMs ?? 0, written.retryAfterMs);
    return out;
  }

  /**
   * Applies `object` unless the live one already has every desired field (no needless writes). A
   * failure (a conflict too: never forced) is recorded in `out`, with the server's Retry-After.
   */
  private async ensure(object: Desired, known: KubeObject | undefined, out: WriteFailures): Promise<void> {
    const label = `${object.kind} ${object.metadata.name}`;
    out.objects.push(label);
    try {
      const live = known ?? this.d.cached(object.kind as OwnedKind, object.metadata.namespace, object.metadata.name);
      if (live !== undefined && contains(live, object)) return;
      await this.d.client.apply(object, { fieldManager: FIELD_MANAGER, force: false });
      this.d.logger.info({ object: label, namespace: object.metadata.namespace }, `Applied ${object.kind}`);
    } catch (error) {
      const message = `${label}: ${(error as Error).message}`;
      out.applyErrors.push(isForbidden(error) && !isAdmissionDenial(error) ? `${message} (the operator's ClusterRole lacks this right)` : message);
      const retryAfter = (error as { retryAfterMs?: unknown }).retryAfterMs;
      if (typeof retryAfter === 'number') out.retryAfterMs = Math.max(out.retryAfterMs ?? 0, retryAfter);
    }
  }

  /**
   * @param grant Proxy mode: the grant in force and its ClusterRoles' rules, which the proxy's rules
   * file carries (without a verified grant the proxy allows nothing beyond discovery).
   */
  private async applyCredentials(
    profile: ResolvedProfile,
    failures: WriteFailures,
    grant: { profile: ResolvedProfile | undefined; clusterRoleRules: Map<string, PolicyRule[] | undefined> },
  ): Promise<CredentialsObservation> {
    const k = profile.kubeconfig;
    if (profile.auth === 'ServiceAccount' || k === undefined) return { source: 'InCluster' };
    if (k.source === 'Secret') return { source: 'Secret', name: k.name };
    if (k.source === 'Generated') {
      const granted = grant.profile ?? { ...profile, permissions: { ...profile.permissions, rules: [], clusterRoles: [] } };
      const configMaps = desiredObjects(profile.proxy === undefined ? profile : { ...granted, kubeconfig: k, proxy: profile.proxy }, grant.clusterRoleRules).filter(
        (o) => o.kind === 'ConfigMap',
      ) as Desired[];
      const out: WriteFailures = { applyErrors: [], objects: [] };
      for (const cm of configMaps) await this.ensure(cm, undefined, out);
      failures.applyErrors.push(...out.applyErrors);
      if (out.retryAfterMs !== undefined) failures.retryAfterMs = Math.max(failures.retryAfterMs ?? 0, out.retryAfterMs);
      const applyError = out.applyErrors[0];
      const configMap = configMaps[0]?.metadata.name ?? '';
      if (profile.proxy !== undefined) {
        const rules = proxyRules({ ...granted, kubeconfig: k, proxy: profile.proxy }, grant.clusterRoleRules);
        const proxy = { source: 'Proxy' as const, configMap, rulesConfigMap: configMaps[1]?.metadata.name ?? '', port: profile.proxy.port, rules: rules.rules.length, missingClusterRoles: rules.missingClusterRoles };
        return applyError === undefined ? proxy : { ...proxy, applyError };
      }
      return applyError === undefined ? { source: 'Generated', configMap } : { source: 'Generated', configMap, applyError };
    }
    const cm = await this.d.kubeconfigSources.get(profile.namespace, k.name);
    if (cm === undefined) return { source: 'ConfigMap', name: k.name, key: k.key, found: false };
    const text = cm.data?.[k.key];
    return { source: 'ConfigMap', name: k.name, key: k.key, found: true, inspection: text === undefined ? undefined : inspectKubeconfig(text) };
  }

  /**
   * Deletes objects created for this profile that it no longer wants (scope or mode switched). RBAC
   * only when a verified grant decides it: without one, RBAC is kept as it is.
   */
  private async deleteStale(profile: ResolvedProfile, { rbac }: { rbac: boolean }, failures: WriteFailures): Promise<void> {
    const keep = new Set(desiredObjects(profile).map((o) => `${o.kind}/${o.metadata.name}`));
    for (const { kind, resource, namespaced } of OWNED_KINDS) {
      if (!rbac && kind !== 'ConfigMap') continue;
      for (const item of this.d.ownedBy(kind, profile)) {
        if (keep.has(`${kind}/${item.metadata.name}`)) continue;
        const label = `${kind} ${item.metadata.name}`;
        try {
          await this.d.client.delete(objectPath(resource, namespaced ? profile.namespace : undefined, item.metadata.name));
          this.d.logger.info({ object: label, profile: `${profile.namespace}/${profile.name}` }, `Deleted ${kind}`);
        } catch (error) {
          failures.applyErrors.push(`${label}: not deleted: ${(error as Error).message}`);
        }
      }
    }
  }

  /** Every object labelled as created for the profile, listed live (the finalizer must not miss one the caches have not seen yet). */
  private async deleteOwned(profile: Pick<ResolvedProfile, 'name' | 'namespace'>, shouldDelete: (kind: string, name: string) => boolean): Promise<void> {
    const labelSelector = `${MANAGED_BY_LABEL}=${MANAGED_BY},${OWNER_NAME_LABEL}=${profile.name},${OWNER_NAMESPACE_LABEL}=${profile.namespace}`;
    for (const { resource, namespaced } of OWNED_KINDS) {
      const list = await this.d.client.request<{ items: KubeObject[] }>('GET', collectionPath(resource, namespaced ? profile.namespace : undefined), {
        query: { labelSelector },
      });
      for (const item of list.items) {
        if (!shouldDelete(resource.kind, item.metadata.name)) continue;
        await this.d.client.delete(objectPath(resource, namespaced ? profile.namespace : undefined, item.metadata.name));
        this.d.logger.info({ object: `${resource.kind} ${item.metadata.name}`, profile: `${profile.namespace}/${profile.name}` }, `Deleted ${resource.kind}`);
      }
    }
  }

  /**
   * Deletion: the workload reconciler removes injections (the profile is deleting); once no workload
   * carries one, cluster-scoped RBAC (which cannot be owned by a namespaced profile) is deleted and
   * the finalizer released. Namespaced objects go with the garbage collector through ownerReferences.
   */
  private async finalize(profile: Profile): Promise<ReconcileResult | void> {
    if (!(profile.metadata.finalizers ?? []).includes(FINALIZER)) return;
    const { name, namespace = '' } = profile.metadata;
    const remaining = this.d.workloads.injectedCount(namespace, name);
    if (remaining > 0) {
      this.d.logger.info({ profile: `${namespace}/${name}`, remaining }, 'Waiting for workloads to lose their injection');
      return;
    }
    await this.deleteOwned({ name, namespace }, () => true);
    await this.setFinalizer(profile, false);
    this.d.logger.info({ profile: `${namespace}/${name}` }, 'Released ApiAccessProfile finalizer');
  }

  private async setFinalizer(profile: Profile, present: boolean): Promise<void> {
    await this.d.client.apply(
      { apiVersion: API_VERSION, kind: KIND, metadata: { name: profile.metadata.name, namespace: profile.metadata.namespace ?? '', finalizers: present ? [FINALIZER] : [] } },
      { fieldManager: FIELD_MANAGER, force: false },
    );
  }

  /**
   * Writes the status if it changed. A change that only recounts workloads (bulk binding reports one
   * workload at a time) waits until COUNT_WRITE_INTERVAL_MS after the last write: returns how long.
   */
  private async writeStatus(profile: Profile, status: ApiAccessProfileStatus): Promise<number | undefined> {
    if (isDeepStrictEqual(status, profile.status ?? {})) return undefined;
    const key = `${profile.metadata.namespace}/${profile.metadata.name}`;
    const changed = changedStatusFields(profile.status, status);
    const last = this.statusWritten.get(key);
    const wait = last === undefined ? 0 : last + COUNT_WRITE_INTERVAL_MS - this.now().getTime();
    if (wait > 0 && changed.every((f) => COUNT_FIELDS.has(f))) return wait;
    this.d.logger.info({ profile: key, changed, workloads: status.workloads }, 'Updated ApiAccessProfile status');
    await this.d.client.apply(
      { apiVersion: API_VERSION, kind: KIND, metadata: { name: profile.metadata.name, namespace: profile.metadata.namespace ?? '' }, status },
      { fieldManager: FIELD_MANAGER, force: true, subresource: 'status' },
    );
    this.statusWritten.set(key, this.now().getTime());
    for (const c of reportable(profile.status?.conditions, status.conditions ?? [])) {
      if (c.type === ConditionType.Ready && c.reason === Reason.InvalidSpec) continue; // reported by its own Event
      await this.event(profile, c.status === 'True' ? 'Normal' : 'Warning', c.reason, `${c.type} is ${c.status}: ${c.message}`);
    }
    return undefined;
  }

  private async event(profile: Profile, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const involved: InvolvedObject = { apiVersion: API_VERSION, kind: KIND, name: profile.metadata.name, namespace: profile.metadata.namespace ?? '' };
    if (profile.metadata.uid !== undefined) involved.uid = profile.metadata.uid;
    await this.d.events.record(involved, type, reason, message);
  }
}

/** Status fields a workload recount changes (see changedStatusFields for the names). */
const COUNT_FIELDS = new Set(['workloads', `conditions[${ConditionType.WorkloadsBound}]`]);

/** Which parts of a status differ (top-level fields, and conditions by type), for the log. */
function changedStatusFields(before: ApiAccessProfileStatus | undefined, after: ApiAccessProfileStatus): string[] {
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after)].filter((k) => k !== 'conditions'));
  const fields = [...keys].filter((k) => !isDeepStrictEqual((before as Record<string, unknown> | undefined)?.[k], (after as Record<string, unknown>)[k]));
  const conditions = (after.conditions ?? []).filter((c) => !isDeepStrictEqual(before?.conditions?.find((b) => b.type === c.type), c)).map((c) => `conditions[${c.type}]`);
  return [...fields, ...conditions];
}

/** Conditions worth an Event: each flip, and each new refusal of a grant even while RBACReady stays False. */
function reportable(before: readonly Condition[] | undefined, after: readonly Condition[]): Condition[] {
  const refusal = new Set<string>([Reason.RequesterMayNotGrant, Reason.AuthorUnknown]);
  const changedRefusal = after.filter((c) => refusal.has(c.reason) && before?.find((b) => b.type === c.type)?.message !== c.message);
  return [...new Set([...flipped(before, after), ...changedRefusal])];
}

/** The grant to apply after a verdict: the requested one when accepted, else the last accepted (if any). */
export function grantInForce(verdict: GrantVerdict, current: Grant | undefined, profile: ResolvedProfile, generation: number): Grant | undefined {
  if (verdict.kind !== 'Accepted') return current;
  return { author: verdict.author, generation, ...requestedGrant(profile) };
}

/** The profile as applied: its spec with the grant in force in place of the requested one. */
function withGrant(profile: ResolvedProfile, grant: Grant): ResolvedProfile {
  return { ...profile, serviceAccount: { ...grant.serviceAccount }, permissions: structuredClone(grant.permissions) };
}

/** A 403 from an admission policy or webhook, not from the authorizer: the ClusterRole is not the cause. */
function isAdmissionDenial(error: unknown): boolean {
  return /admission|denied the request|denied request/i.test((error as Error).message ?? '');
}

function untouchedRbac(): ProfileObservation['rbac'] {
  return { serviceAccountMissing: false, serviceAccountForeign: false, missingClusterRoles: [], applyErrors: [], objects: [] };
}

/** Whether an existing object was created for this profile (its labels or ownerReference say so). */
function createdFor(object: KubeObject, profile: ResolvedProfile): boolean {
  const labels = object.metadata.labels ?? {};
  if (labels[OWNER_NAME_LABEL] === profile.name && labels[OWNER_NAMESPACE_LABEL] === profile.namespace) return true;
  return (object.metadata.ownerReferences ?? []).some((o) => o.uid === profile.uid);
}
