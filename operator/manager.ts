// Wires the operator together: one client, label-selected caches, a work queue per reconciler,
// leader election, health and metrics servers, and a graceful stop.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Server } from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { INJECTED_LABEL, MANAGED_BY, MANAGED_BY_LABEL, OWNER_NAME_LABEL, OWNER_NAMESPACE_LABEL, parseSpec, PROFILE_LABEL, type PolicyRule } from '../crds/apiaccessprofile.ts';
import { AUTHOR_POLICY, guardProblems } from './desired/author-policies.ts';
import type { ResolvedClientConfig } from './config/client-config.ts';
import { ListWatchCache, type CacheEvent } from './kube/cache.ts';
import { ResourceScopes } from './kube/discovery.ts';
import { KubeClient, type KubeObject } from './kube/client.ts';
import { LeaderElector } from './kube/leader.ts';
import { WorkQueue } from './kube/queue.ts';
import { RESOURCES } from './kube/resources.ts';
import { OperatorMetrics, requestResource, requestVerb } from './metrics.ts';
import { reviewAccess } from './reconcile/access-verification.ts';
import { BindingRegistry } from './reconcile/bindings.ts';
import { EventRecorder } from './reconcile/events.ts';
import { KubeconfigSources } from './reconcile/kubeconfig-sources.ts';
import { COUNT_WRITE_INTERVAL_MS, ProfileReconciler, type OwnedKind, type Profile } from './reconcile/profile-reconciler.ts';
import { rbacState, ReviewCache, type BindingObject, type RbacView } from './reconcile/review-cache.ts';
import { workloadKey, WorkloadIndex, type Workload } from './reconcile/workload-index.ts';
import { WorkloadReconciler } from './reconcile/workload-reconciler.ts';
import { MetricsAuth } from './metrics-auth.ts';
import { assertLoopback, healthServer, listen, metricsCertificate, metricsServer, parseBindAddress } from './server.ts';

export const LEASE_NAME = 'apiaccess-operator';

/** A reconcile running longer than this is stuck (every request has a timeout): liveness fails. */
export const STUCK_RECONCILE_MS = 10 * 60_000;

/** Workload reconciles in flight: enough to keep the API server's own concurrency busy (bench: raw SSA loop uses the same). */
export const WORKLOAD_WORKERS = 16;
/** Profile reconciles in flight. */
export const PROFILE_WORKERS = 2;

export interface ManagerOptions {
  clientConfig: ResolvedClientConfig;
  logger: Logger;
  /** Only this namespace; all namespaces when undefined. */
  namespace?: string;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  metricsBindAddress: string;
  /** HTTPS with TokenReview/SubjectAccessReview (default); false: plain HTTP, loopback only. */
  metricsSecure?: boolean;
  /** tls.crt and tls.key for the metrics endpoint; a self-signed certificate when absent. */
  metricsCertDir?: string;
  healthProbeBindAddress: string;
  /** Client-side limit of requests to the API server; KubeClient's defaults (qps 20, burst 30) when unset. */
  kubeApiRateLimit?: { qps?: number; burst?: number };
  /** The leader election and Event identity. @default `${POD_NAME or hostname}_${random}`, unique per process */
  identity?: string;
  /** Called when leadership is lost: the process must stop reconciling at once. */
  onLeadershipLost?: () => void;
  /** Image of the auth: Proxy sidecar (the operator's own); Proxy profiles are not injected without it. */
  proxyImage?: string;
}

export class Manager {
  readonly metrics = new OperatorMetrics();
  readonly client: KubeClient;
  private readonly profiles: ListWatchCache<Profile>;
  private readonly workloads: WorkloadIndex;
  /** RBAC the profiles' access depends on: a change re-verifies the profiles it can affect. */
  private readonly rbac: Array<{ kind: string; cache: ListWatchCache<RbacObject> }>;
  /** The admission policies that stamp authors, watched by name: without them no new grant is applied. */
  private readonly guard: Array<{ kind: GuardKind; cache: ListWatchCache<KubeObject & { spec?: Record<string, unknown> }> }>;
  /** ServiceAccounts (profiles create theirs, workloads wait for them) and the ConfigMaps the operator generated. */
  private readonly serviceAccounts: ListWatchCache<KubeObject>;
  private readonly ownedConfigMaps: ListWatchCache<KubeObject>;
  private readonly reviews: ReviewCache;
  /** When each profile was last queued for a recount of its workloads. */
  private readonly recounted = new Map<string, number>();
  private readonly profileReconciler: ProfileReconciler;
  private readonly kubeconfigSources: KubeconfigSources;
  private readonly profileQueue: WorkQueue;
  private readonly workloadQueue: WorkQueue;
  private readonly elector: LeaderElector | undefined;
  private readonly servers: Server[] = [];
  private readonly logger: Logger;
  private readonly events: EventRecorder;
  private reconciling = false;
  /** False on a replica that does not (or no longer) hold the Lease: its writes are fenced. */
  private writable: boolean;

  constructor(private readonly opts: ManagerOptions) {
    const logger = (this.logger = opts.logger);
    this.writable = !opts.leaderElect;
    // Like client-go's `hostname_uuid`: two processes of one Pod (a restart racing its predecessor)
    // must never both believe they hold the Lease.
    const identity = opts.identity ?? `${process.env.POD_NAME ?? hostname()}_${randomUUID().slice(0, 8)}`;
    this.client = KubeClient.fromClientConfig(opts.clientConfig, {
      userAgent: 'apiaccess-operator',
      qps: opts.kubeApiRateLimit?.qps,
      burst: opts.kubeApiRateLimit?.burst,
      onRequest: (info) => this.metrics.kubeRequests.inc({ verb: requestVerb(info.verb, info.path), resource: requestResource(info.path), code: String(info.status) }),
      fence: (method, path) => this.fence(method, path),
    });
    const ns = opts.namespace !== undefined ? { namespace: opts.namespace } : {};
    this.profiles = new ListWatchCache<Profile>({ client: this.client, resource: RESOURCES.ApiAccessProfile, name: 'ApiAccessProfile', logger, ...ns });
    this.workloads = new WorkloadIndex(this.client, logger, opts.namespace);
    this.rbac = (['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'] as const).map((kind) => ({
      kind,
      cache: new ListWatchCache<RbacObject>({ client: this.client, resource: RESOURCES[kind], name: kind, logger, ...(kind.startsWith('Cluster') ? {} : ns) }),
    }));
    this.guard = GUARD_KINDS.map((kind) => ({
      kind,
      cache: new ListWatchCache({ client: this.client, resource: RESOURCES[kind], name: kind, logger, fieldSelector: `metadata.name=${AUTHOR_POLICY}`, optional: true }),
    }));
    this.serviceAccounts = new ListWatchCache<KubeObject>({ client: this.client, resource: RESOURCES.ServiceAccount, name: 'ServiceAccount', logger, ...ns });
    this.ownedConfigMaps = new ListWatchCache<KubeObject>({
      client: this.client,
      resource: RESOURCES.ConfigMap,
      name: 'ConfigMap[managed]',
      labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}`,
      logger,
      ...ns,
    });
    const rbacCache = (kind: string): ListWatchCache<RbacObject> => this.rbacCache(kind);
    const view: RbacView = {
      clusterRoleBindings: () => rbacCache('ClusterRoleBinding').list() as BindingObject[],
      roleBindings: () => rbacCache('RoleBinding').list() as BindingObject[],
      role: (kind, namespace, name) => rbacCache(kind).get(namespace, name),
    };
    this.reviews = new ReviewCache(view, (who, check) => reviewAccess(this.client, who, check));
    const events = (this.events = new EventRecorder(this.client, logger, identity));
    const kubeconfigSources = (this.kubeconfigSources = new KubeconfigSources({ client: this.client, logger, onChange: (namespace, name) => this.onKubeconfigSourceEvent(namespace, name) }));
    const bindings = new BindingRegistry((profileKey) => this.onBindingsChanged(profileKey));
    const clusterRoles = this.rbacCache('ClusterRole');
    const profileReconciler = (this.profileReconciler = new ProfileReconciler({
      client: this.client,
      profiles: this.profiles,
      kubeconfigSources,
      scopes: new ResourceScopes(this.client),
      workloads: this.workloads,
      bindings,
      events,
      logger,
      clusterRoles: (name) => {
        const role = clusterRoles.get(undefined, name) as (RbacObject & { rules?: PolicyRule[] }) | undefined;
        return role === undefined ? undefined : (role.rules ?? []);
      },
      guardProblems: () => this.guardProblems(),
      reviews: this.reviews,
      rbacState: (who) => rbacState(view, who),
      cached: (kind, namespace, name) => (kind === 'ServiceAccount' ? this.serviceAccounts : kind === 'ConfigMap' ? this.ownedConfigMaps : rbacCache(kind)).get(namespace, name),
      ownedBy: (kind, profile) => this.ownedBy(kind, profile),
    }));
    const workloadReconciler = new WorkloadReconciler({
      client: this.client,
      workloads: this.workloads,
      profiles: this.profiles,
      kubeconfigSources,
      bindings,
      events,
      logger,
      serviceAccountExists: (namespace, name) => this.serviceAccounts.get(namespace, name) !== undefined,
      ...(this.opts.proxyImage !== undefined ? { proxyImage: this.opts.proxyImage } : {}),
    });
    this.profileQueue = new WorkQueue({ name: 'profiles', concurrency: PROFILE_WORKERS, logger, handler: (key) => this.timed('profile', () => profileReconciler.reconcile(key)) });
    this.workloadQueue = new WorkQueue({ name: 'workloads', concurrency: WORKLOAD_WORKERS, logger, handler: (key) => this.timed('workload', () => workloadReconciler.reconcile(key)) });
    this.profiles.on((e) => this.onProfileEvent(e));
    for (const { kind, cache } of this.workloads.caches) cache.on((e) => this.onWorkloadEvent(kind, e));
    for (const { kind, cache } of this.rbac) cache.on((e) => this.onRbacEvent(kind, e));
    for (const { cache } of this.guard) cache.on(() => this.onGuardEvent());
    this.serviceAccounts.on((e) => this.onServiceAccountEvent(e));
    this.ownedConfigMaps.on((e) => this.onOwnedEvent(e.object));
    if (opts.leaderElect) {
      this.elector = new LeaderElector({ client: this.client, namespace: opts.leaderElectionNamespace, name: LEASE_NAME, identity, logger });
    }
  }

  private get caches(): Array<ListWatchCache<KubeObject>> {
    return [
      this.profiles,
      ...this.workloads.caches.map((c) => c.cache),
      ...this.rbac.map((c) => c.cache),
      ...this.guard.map((c) => c.cache),
      this.serviceAccounts,
      this.ownedConfigMaps,
    ] as Array<ListWatchCache<KubeObject>>;
  }

  get ready(): boolean {
    return this.caches.every((c) => c.synced);
  }

  /**
   * Liveness: false when a reconcile has been running for longer than any request may take (a
   * wedged handler). An API server outage is not a liveness failure: restarting would not help.
   */
  get healthy(): boolean {
    return Math.max(this.profileQueue.longestRunningMs(), this.workloadQueue.longestRunningMs()) < STUCK_RECONCILE_MS;
  }

  async start(): Promise<void> {
    const health = parseBindAddress(this.opts.healthProbeBindAddress, '--health-probe-bind-address');
    if (health !== undefined) {
      const server = healthServer({ healthy: () => this.healthy, ready: () => this.ready });
      this.servers.push(server);
      this.logger.info({ address: await listen(server, health) }, 'Serving health probes');
    }
    const metrics = parseBindAddress(this.opts.metricsBindAddress, '--metrics-bind-address');
    if (metrics !== undefined) {
      const secure = this.opts.metricsSecure !== false;
      if (!secure) assertLoopback(metrics.host, '--no-metrics-secure');
      const tls = secure ? await metricsCertificate(this.opts.metricsCertDir, process.env.POD_NAME ?? hostname()) : undefined;
      const server = metricsServer({ registry: this.metrics.registry, ...(tls ? { secure: { auth: new MetricsAuth(this.client), tls } } : {}) });
      this.servers.push(server);
      const scheme = secure ? 'https' : 'http';
      this.logger.info({ address: await listen(server, metrics), scheme, ...(tls ? { certificate: tls.selfSigned ? 'self-signed' : this.opts.metricsCertDir } : {}) }, 'Serving metrics');
    }
    // Caches run on every replica (a standby takes over warm); only the leader reconciles.
    for (const cache of this.caches) cache.start();
    this.kubeconfigSources.start();
    await Promise.all(this.caches.map((c) => c.waitForSync()));
    this.logger.info({ caches: this.caches.length }, 'Synced caches');
    if (this.elector === undefined) {
      this.startReconciling();
      return;
    }
    this.elector.run({
      onStartedLeading: () => {
        this.writable = true;
        this.metrics.leader.set(1);
        this.startReconciling();
      },
      onStoppedLeading: () => {
        // Before anything else: reconciles still in flight must not write as a leader any more.
        this.writable = false;
        this.metrics.leader.set(0);
        if (this.reconciling) {
          this.logger.error('Lost leadership; stopping');
          this.opts.onLeadershipLost?.();
        }
      },
    });
  }

  private startReconciling(): void {
    if (this.reconciling) return;
    this.reconciling = true;
    for (const p of this.profiles.list()) this.profileQueue.add(`${p.metadata.namespace}/${p.metadata.name}`);
    for (const key of this.workloads.allKeys()) this.workloadQueue.add(key);
    this.profileQueue.start();
    this.workloadQueue.start();
    this.logger.info({ namespace: this.opts.namespace ?? 'all' }, 'Started reconciling');
  }

  /** Graceful: stop taking work, finish in-flight reconciles, release the Lease, close watches. */
  async stop(): Promise<void> {
    await Promise.all([this.profileQueue.stop(), this.workloadQueue.stop()]);
    await this.events.flush();
    await this.elector?.stop();
    await Promise.all([...this.caches.map((c) => c.stop()), this.kubeconfigSources.stop()]);
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.client.close();
    this.reconciling = false;
  }

  private async timed<T>(controller: string, fn: () => Promise<T>): Promise<T> {
    const end = this.metrics.reconcileDuration.startTimer({ controller });
    try {
      const result = await fn();
      this.metrics.reconciles.inc({ controller, result: 'success' });
      return result;
    } catch (error) {
      this.metrics.reconciles.inc({ controller, result: 'error' });
      this.logger.warn({ err: error, controller }, 'Reconcile failed; retrying with backoff');
      throw error;
    } finally {
      end();
    }
  }

  /** Refuses writes once the Lease is lost; the elector's own Lease writes and reviews pass. */
  private fence(method: string, path: string): string | undefined {
    if (this.writable || method === 'GET') return undefined;
    if (path.startsWith('/apis/coordination.k8s.io/') || /\/(subjectaccessreviews|tokenreviews)$/.test(path)) return undefined;
    return 'not the leader: this replica lost (or never held) the Lease, so it writes nothing';
  }

  /** What is wrong with the author-stamping policies (empty when all four are in place). */
  private guardProblems(): string[] {
    if (this.guard.some((g) => !g.cache.served)) {
      return ['the API server does not serve admissionregistration.k8s.io/v1 MutatingAdmissionPolicy (Kubernetes 1.36 or newer is needed); restart the operator after upgrading'];
    }
    return guardProblems(Object.fromEntries(this.guard.map((g) => [g.kind, g.cache.get(undefined, AUTHOR_POLICY)])));
  }

  /** The guard appeared, changed or went away: every profile's undecided change is decided again. */
  private onGuardEvent(): void {
    if (!this.reconciling) return;
    for (const p of this.profiles.list()) this.profileQueue.add(`${p.metadata.namespace}/${p.metadata.name}`);
  }

  /** A user's kubeconfig ConfigMap changed: its profiles re-inspect it, their workloads roll out. */
  private onKubeconfigSourceEvent(namespace: string, name: string): void {
    if (!this.reconciling) return;
    for (const key of this.kubeconfigSources.profilesUsing(namespace, name)) {
      this.profileQueue.add(key);
      const [ns = '', profile = ''] = key.split('/');
      for (const w of this.workloads.keysFor(ns, profile)) this.workloadQueue.add(w);
    }
  }

  private onProfileEvent(e: CacheEvent<Profile>): void {
    const { name, namespace = '' } = e.object.metadata;
    const key = `${namespace}/${name}`;
    this.kubeconfigSources.track(key, e.type === 'DELETED' ? undefined : referencedConfigMap(e.object));
    if (e.type === 'DELETED' && e.object.metadata.uid !== undefined) this.events.forget(e.object.metadata.uid);
    if (e.type === 'MODIFIED' && e.old !== undefined && onlyStatusChanged(e.old, e.object)) {
      // A newly accepted grant may move the workloads to another ServiceAccount.
      if (!isDeepStrictEqual(e.old.status?.grant?.serviceAccount, e.object.status?.grant?.serviceAccount)) {
        for (const w of this.workloads.keysFor(namespace, name)) this.workloadQueue.add(w);
      }
      return;
    }
    this.profileQueue.add(key);
    // A changed spec or a deletion changes what every bound workload should carry.
    if (e.type !== 'MODIFIED' || e.old?.metadata.generation !== e.object.metadata.generation || e.object.metadata.deletionTimestamp !== undefined) {
      for (const w of this.workloads.keysFor(namespace, name)) this.workloadQueue.add(w);
    }
  }

  /**
   * Re-verifies the profiles an RBAC change can affect: by name, by owner label, or by subject; and
   * decides again every refused or unauthored change, since the author may have gained the rights.
   */
  private onRbacEvent(kind: string, e: CacheEvent<RbacObject>): void {
    if (!this.reconciling) return;
    for (const key of this.profileReconciler.undecidedKeys()) this.profileQueue.add(key);
    const objects = [e.old, e.object].filter((o): o is RbacObject => o !== undefined);
    for (const p of this.profiles.list(e.object.metadata.namespace)) {
      const key = `${p.metadata.namespace}/${p.metadata.name}`;
      const parsed = parseSpec(p.spec);
      const sa = parsed.ok ? (parsed.spec.serviceAccount.name ?? p.metadata.name) : p.metadata.name;
      const affected = objects.some(
        (o) =>
          (o.metadata.labels?.[OWNER_NAME_LABEL] === p.metadata.name && o.metadata.labels?.[OWNER_NAMESPACE_LABEL] === p.metadata.namespace) ||
          (parsed.ok && kind === 'ClusterRole' && parsed.spec.permissions.clusterRoles.includes(o.metadata.name)) ||
          (o.subjects ?? []).some((s) => s.kind === 'ServiceAccount' && s.name === sa && s.namespace === p.metadata.namespace) ||
          kind === 'Role',
      );
      if (affected) this.profileQueue.add(key);
    }
  }

  /**
   * A workload changed: it is reconciled; its profile learns the outcome from the BindingRegistry.
   * Only a deletion or a change of its labels also recounts the profiles it names (one that vanished
   * before it was reconciled, or a deleting profile waiting for injections to go).
   */
  private onWorkloadEvent(kind: string, e: CacheEvent<Workload>): void {
    if (e.type === 'MODIFIED' && e.old !== undefined && onlyStatusChanged(e.old, e.object)) return;
    const { name, namespace = '', uid } = e.object.metadata;
    if (e.type === 'DELETED' && uid !== undefined) this.events.forget(uid);
    this.workloadQueue.add(workloadKey(kind, namespace, name));
    const named = (labels: Record<string, string> | undefined): string[] => [labels?.[PROFILE_LABEL], labels?.[INJECTED_LABEL]].filter((p): p is string => p !== undefined);
    const before = named(e.old?.metadata.labels);
    const now = named(e.object.metadata.labels);
    if (e.type === 'MODIFIED' && isDeepStrictEqual(before, now)) return;
    for (const profile of new Set([...before, ...now])) this.onBindingsChanged(`${namespace}/${profile}`);
  }

  /**
   * A workload's outcome changed: its profile recounts, at once, or — while many workloads report
   * one after another (a bulk binding) — once per COUNT_WRITE_INTERVAL_MS, so that the profile's
   * reconciles do not grow with the number of workloads.
   */
  private onBindingsChanged(profileKey: string): void {
    const now = Date.now();
    const wait = (this.recounted.get(profileKey) ?? 0) + COUNT_WRITE_INTERVAL_MS - now;
    if (wait > 0) {
      this.profileQueue.add(profileKey, wait);
      return;
    }
    this.recounted.set(profileKey, now);
    if (this.recounted.size > 10_000) this.recounted.delete(this.recounted.keys().next().value as string);
    this.profileQueue.add(profileKey);
  }

  /** A ServiceAccount a profile names appeared, changed or went away: the profile re-applies it, its waiting workloads re-check. */
  private onServiceAccountEvent(e: CacheEvent<KubeObject>): void {
    if (!this.reconciling) return;
    const { namespace = '', name } = e.object.metadata;
    for (const p of this.profiles.list(namespace)) {
      const parsed = parseSpec(p.spec);
      const names = [parsed.ok ? (parsed.spec.serviceAccount.name ?? p.metadata.name) : p.metadata.name, p.status?.grant?.serviceAccount?.name];
      if (!names.includes(name)) continue;
      this.profileQueue.add(`${namespace}/${p.metadata.name}`);
      if (e.type === 'ADDED') for (const w of this.workloads.keysFor(namespace, p.metadata.name)) this.workloadQueue.add(w);
    }
  }

  /** An object the operator created for a profile changed (edited, deleted): the profile restores it. */
  private onOwnedEvent(object: KubeObject): void {
    if (!this.reconciling) return;
    const labels = object.metadata.labels ?? {};
    const name = labels[OWNER_NAME_LABEL];
    const namespace = labels[OWNER_NAMESPACE_LABEL];
    if (labels[MANAGED_BY_LABEL] === MANAGED_BY && name !== undefined && namespace !== undefined) this.profileQueue.add(`${namespace}/${name}`);
  }

  private rbacCache(kind: string): ListWatchCache<RbacObject> {
    return this.rbac.find((c) => c.kind === kind)!.cache;
  }

  /** Cached objects of `kind` labelled as created for the profile. */
  private ownedBy(kind: OwnedKind, profile: { namespace: string; name: string }): KubeObject[] {
    const cache = kind === 'ConfigMap' ? this.ownedConfigMaps : this.rbacCache(kind);
    const namespaced = kind === 'ConfigMap' || kind === 'Role' || kind === 'RoleBinding';
    return cache.list(namespaced ? profile.namespace : undefined).filter((o) => {
      const labels = o.metadata.labels ?? {};
      return labels[MANAGED_BY_LABEL] === MANAGED_BY && labels[OWNER_NAME_LABEL] === profile.name && labels[OWNER_NAMESPACE_LABEL] === profile.namespace;
    });
  }
}

/** The user's kubeconfig ConfigMap a profile names (spec.kubeconfig.source ConfigMap), if any. */
function referencedConfigMap(profile: Profile): { namespace: string; name: string } | undefined {
  const parsed = parseSpec(profile.spec);
  if (!parsed.ok || parsed.spec.auth !== 'Kubeconfig') return undefined;
  const k = parsed.spec.kubeconfig;
  return k?.source === 'ConfigMap' && k.name !== undefined ? { namespace: profile.metadata.namespace ?? '', name: k.name } : undefined;
}

const GUARD_KINDS = ['MutatingAdmissionPolicy', 'MutatingAdmissionPolicyBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'] as const;
type GuardKind = (typeof GUARD_KINDS)[number];

type RbacObject = KubeObject & { subjects?: Array<{ kind: string; name: string; namespace?: string }> };

/** Status-only updates (a controller reporting progress) change nothing the operator decides on. */
function onlyStatusChanged(old: KubeObject, now: KubeObject): boolean {
  const strip = (o: KubeObject): unknown => {
    const { status: _status, metadata, ...rest } = o as KubeObject & { status?: unknown };
    const { resourceVersion: _rv, managedFields: _mf, ...meta } = metadata;
    return { ...rest, metadata: meta };
  };
  return isDeepStrictEqual(strip(old), strip(now));
}
