// The objects the bench creates, as pure builders: workloads, profiles, the ClusterRole it churns,
// and the raw loop's apply configuration (the operator's own builders, so the fields are identical).
import { API_VERSION, KIND, parseSpec, PLURAL, PROFILE_LABEL, type ApiAccessProfileSpecInput } from '../../crds/apiaccessprofile.ts';
import { podTemplateInjection } from '../../operator/desired/pod-template.ts';
import { resolveProfile } from '../../operator/desired/profile.ts';
import { workloadApplyConfig, type WorkloadApplyConfig } from '../../operator/desired/workload.ts';

/** Every namespace the bench creates carries it: a later run deletes what an interrupted one left. */
export const RUN_LABEL = 'bench.apiaccess.dev/run';
export const PROFILE = 'bench';
export const CONTAINER = 'app';

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: unknown };

/** `prefix-0` .. `prefix-(n-1)` */
export function names(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
}

export function namespace(name: string, run: string): Obj {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { [RUN_LABEL]: run } } };
}

/**
 * A Deployment with 0 replicas, not paused: the deployment controller still reacts to every
 * template change (revision annotation, a new ReplicaSet), which is part of the load measured.
 */
export function deployment(ns: string, name: string, profile?: string): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, ...(profile !== undefined ? { labels: { [PROFILE_LABEL]: profile } } : {}) },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: CONTAINER, image: 'registry.invalid/bench/app:1' }] } },
    },
  };
}

/** The label alone, applied by a field manager of its own (applied by the creator's, it would drop the rest). */
export function labelOnly(ns: string, name: string, profile: string): Obj {
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns, labels: { [PROFILE_LABEL]: profile } } };
}

/** What the bound workloads may do: one harmless rule (the same in both auth modes). */
const PERMISSIONS = { rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }] };

export const SERVICE_ACCOUNT_SPEC: ApiAccessProfileSpecInput = { auth: 'ServiceAccount', permissions: PERMISSIONS };
export const KUBECONFIG_SPEC: ApiAccessProfileSpecInput = { auth: 'Kubeconfig', kubeconfig: { source: 'Generated' }, permissions: PERMISSIONS };

export function profile(ns: string, name: string, spec: ApiAccessProfileSpecInput): Obj {
  return { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace: ns }, spec };
}

export function profilePath(ns: string, name: string): string {
  return `/apis/${API_VERSION}/namespaces/${ns}/${PLURAL}/${name}`;
}

/**
 * The apply configuration the operator writes into a Deployment bound to a ServiceAccount-mode
 * profile named PROFILE in `ns`, built by the operator's own functions. Without the operator's
 * `apiaccess.dev/injected` label: a running operator would otherwise remove an injection no profile
 * label asks for (the raw loop runs with the operator scaled to 0, and its namespace stays).
 */
export function rawApplyConfig(ns: string, name: string, spec: ApiAccessProfileSpecInput = SERVICE_ACCOUNT_SPEC): WorkloadApplyConfig {
  const parsed = parseSpec(spec);
  if (!parsed.ok) throw new Error(`The bench's ${spec.auth} profile spec is invalid: ${parsed.message}`);
  const { injection } = podTemplateInjection(resolveProfile({ name: PROFILE, namespace: ns, spec: parsed.spec }), [CONTAINER]);
  const config = workloadApplyConfig({ kind: 'Deployment', namespace: ns, name }, PROFILE, injection);
  delete config.metadata.labels;
  return config;
}

export const CHURN_ROLE = 'apiaccess-bench-churn';

/** Revision `i` of the churned ClusterRole: a label that changes every time, a rule that comes and goes. */
export function churnRole(i: number): Obj {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: CHURN_ROLE, labels: { [`${RUN_LABEL.split('/')[0]}/revision`]: String(i) } },
    rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }, ...(i % 2 === 1 ? [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }] : [])],
  };
}
