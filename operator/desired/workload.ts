// Workload kinds a profile binds, where their pod template lives, and the server-side apply
// configuration that injects (or, empty, removes) a profile's fields. Pure.
import { CONFIG_HASH_ANNOTATION, INJECTED_LABEL } from '../../crds/apiaccessprofile.ts';
import type { ContainerInjection, PodTemplateInjection, SelectableContainers } from './pod-template.ts';
import { contains } from './subset.ts';

export const WORKLOAD_KINDS = {
  Deployment: { apiVersion: 'apps/v1', templatePath: ['spec', 'template'] },
  StatefulSet: { apiVersion: 'apps/v1', templatePath: ['spec', 'template'] },
  DaemonSet: { apiVersion: 'apps/v1', templatePath: ['spec', 'template'] },
  ReplicaSet: { apiVersion: 'apps/v1', templatePath: ['spec', 'template'] },
  CronJob: { apiVersion: 'batch/v1', templatePath: ['spec', 'jobTemplate', 'spec', 'template'] },
} as const;
export type WorkloadKind = keyof typeof WORKLOAD_KINDS;

export interface WorkloadLike {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    ownerReferences?: Array<{ kind: string; name: string; controller?: boolean }>;
  };
  spec?: unknown;
}

interface Container {
  name: string;
  env?: Array<{ name: string; [k: string]: unknown }>;
  volumeMounts?: Array<{ mountPath: string; [k: string]: unknown }>;
  /** Only on init containers: `Always` makes one a native sidecar. */
  restartPolicy?: string;
}
export interface PodTemplate {
  metadata?: { annotations?: Record<string, string>; labels?: Record<string, string> };
  spec?: { containers?: Container[]; initContainers?: Container[]; volumes?: Array<{ name: string }>; [k: string]: unknown };
}

export function isWorkloadKind(kind: string | undefined): kind is WorkloadKind {
  return kind !== undefined && Object.hasOwn(WORKLOAD_KINDS, kind);
}

export function podTemplate(workload: WorkloadLike): PodTemplate | undefined {
  if (!isWorkloadKind(workload.kind)) return undefined;
  let node: unknown = workload;
  for (const key of WORKLOAD_KINDS[workload.kind].templatePath) node = (node as Record<string, unknown> | undefined)?.[key];
  return node as PodTemplate | undefined;
}

/** The app containers only; `selectableContainers` adds the native sidecars a profile selects too. */
export function containerNames(workload: WorkloadLike): string[] {
  return (podTemplate(workload)?.spec?.containers ?? []).map((c) => c.name);
}

/** App containers and native sidecars (init containers with `restartPolicy: Always`), in template order. */
export function selectableContainers(workload: WorkloadLike): SelectableContainers {
  const spec = podTemplate(workload)?.spec;
  return {
    containers: (spec?.containers ?? []).map((c) => c.name),
    nativeSidecars: (spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map((c) => c.name),
  };
}

export type Support = { supported: true } | { supported: false; reason: string };

/** Whether the operator may change this labelled object; the reason names why not. */
export function support(workload: WorkloadLike): Support {
  const kind = workload.kind ?? 'object';
  if (kind === 'Job') return { supported: false, reason: 'a Job\'s pod template cannot change after creation; label its CronJob, or recreate the Job' };
  if (kind === 'Pod') return { supported: false, reason: 'a bare Pod cannot change its ServiceAccount or volumes after creation; label its controller' };
  if (!isWorkloadKind(kind)) return { supported: false, reason: `kind ${kind} is not supported` };
  return { supported: true };
}

/**
 * Whether the workload's controller replaces running Pods when the template changes. When it does
 * not (bare ReplicaSet, OnDelete StatefulSet/DaemonSet, CronJob's running Jobs), old Pods keep the
 * old injection and count as pending.
 */
export function replacesPodsOnTemplateChange(workload: WorkloadLike): boolean {
  const spec = (workload.spec ?? {}) as { updateStrategy?: { type?: string } };
  switch (workload.kind) {
    case 'Deployment':
      return true;
    case 'StatefulSet':
    case 'DaemonSet':
      return spec.updateStrategy?.type !== 'OnDelete';
    default:
      return false;
  }
}

export interface WorkloadRef {
  kind: WorkloadKind;
  name: string;
  namespace: string;
}

/**
 * The apply configuration for the operator's field manager. With an injection it owns exactly the
 * injected fields plus the `apiaccess.dev/injected` label; without one it owns nothing, so applying it
 * removes every field the operator added (fields other managers also set keep their values).
 */
export function workloadApplyConfig(ref: WorkloadRef, profileName: string, injection: PodTemplateInjection | undefined): WorkloadApplyConfig {
  const { apiVersion, templatePath } = WORKLOAD_KINDS[ref.kind];
  const config: WorkloadApplyConfig = { apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } };
  if (injection === undefined) return config;
  config.metadata.labels = { [INJECTED_LABEL]: profileName };
  let node: Record<string, unknown> = config;
  templatePath.forEach((key, i) => {
    const child: Record<string, unknown> = i === templatePath.length - 1 ? { metadata: injection.metadata, spec: injection.spec } : {};
    node[key] = child;
    node = child;
  });
  return config;
}

export interface WorkloadApplyConfig {
  apiVersion: string;
  kind: WorkloadKind;
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  [k: string]: unknown;
}

/** Whether the workload already carries exactly this injection (so applying it again is unnecessary). */
export function carriesInjection(workload: WorkloadLike, profileName: string, injection: PodTemplateInjection): boolean {
  if (workload.metadata.labels?.[INJECTED_LABEL] !== profileName) return false;
  const template = podTemplate(workload);
  // The config-hash, and the kubeconfig digest where the operator knows the user's kubeconfig.
  for (const [key, value] of Object.entries(injection.metadata.annotations)) if (template?.metadata?.annotations?.[key] !== value) return false;
  if (template === undefined) return false;
  const spec = template.spec ?? {};
  const { volumes, containers, initContainers, ...scalars } = injection.spec;
  for (const [key, value] of Object.entries(scalars)) if (spec[key] !== value) return false;
  for (const volume of volumes ?? []) {
    if (!contains(spec.volumes?.find((v) => v.name === volume.name), volume)) return false;
  }
  return carriesContainerInjection(spec.containers, containers) && carriesContainerInjection(spec.initContainers, initContainers);
}

/** Env vars are keyed by name and mounts by mountPath, as server-side apply merges them. */
function carriesContainerInjection(live: readonly Container[] | undefined, injected: readonly ContainerInjection[] | undefined): boolean {
  return (injected ?? []).every((wanted) => {
    const actual = live?.find((c) => c.name === wanted.name);
    if (actual === undefined) return false;
    return (
      wanted.env.every((e) => contains(actual.env?.find((a) => a.name === e.name), e)) &&
      wanted.volumeMounts.every((m) => contains(actual.volumeMounts?.find((a) => a.mountPath === m.mountPath), m))
    );
  });
}

/** The injected config hash a Pod (or a Job's template) carries, if any. */
export function configHashOf(template: PodTemplate | undefined): string | undefined {
  return template?.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
}
