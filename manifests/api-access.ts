// The `ApiAccess` construct: gives a cdk8s-plus workload access to the Kubernetes API server in a
// user's cdk8s app. It renders the ApiAccessProfile, labels the workload, and renders the same
// ServiceAccount, RBAC, kubeconfig ConfigMap and pod-template fields the operator applies at run
// time, from the same pure builders, so the GitOps output and the operator never disagree.
import { ApiObject, Chart, JsonPatch } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import {
  API_VERSION,
  INJECTED_LABEL,
  KIND,
  parseSpec,
  PROFILE_LABEL,
  PROXY_CONTAINER,
  type ApiAccessProfileSpecInput,
} from '../crds/apiaccessprofile.ts';
import { defaultOperatorImage } from '../operator/desired/operator-image.ts';
import { injectionConflicts } from '../operator/desired/injection-conflicts.ts';
import { podTemplateInjection, type ContainerInjection, type PodTemplateInjection, type SelectableContainers } from '../operator/desired/pod-template.ts';
import { desiredObjects } from '../operator/desired/owned-objects.ts';
import { resolveProfile, type ResolvedProfile } from '../operator/desired/profile.ts';

/** The workload kinds a profile can bind (a Job's pod template cannot change after creation). */
export type BindableWorkload = kplus.Deployment | kplus.StatefulSet | kplus.DaemonSet | kplus.CronJob;

const TEMPLATE_PATHS: Record<string, string> = {
  Deployment: '/spec/template',
  StatefulSet: '/spec/template',
  DaemonSet: '/spec/template',
  CronJob: '/spec/jobTemplate/spec/template',
};

export interface ApiAccessProps {
  /** The workload whose Pods get access. Configure its containers, env and volumes before creating ApiAccess. */
  readonly workload: BindableWorkload;
  /**
   * Name of the ApiAccessProfile.
   * @default the workload's name
   */
  readonly name?: string;
  /**
   * Namespace of the profile and the workload.
   * @default the workload's namespace, else the chart's
   */
  readonly namespace?: string;
  /** The ApiAccessProfile spec, exactly as in the CRD (see docs/concepts.md). */
  readonly spec: ApiAccessProfileSpecInput;
  /**
   * auth: Proxy: the sidecar's image, the operator's own (it runs `apiaccess proxy`).
   * @default the image of the synthesized operator install
   */
  readonly proxyImage?: string;
}

export class ApiAccess extends Construct {
  /** The profile as the operator will resolve it (defaults applied). */
  public readonly profile: ResolvedProfile;
  /** The pod-template fields injected into the workload. */
  public readonly injection: PodTemplateInjection;
  public readonly profileObject: ApiObject;

  constructor(scope: Construct, id: string, props: ApiAccessProps) {
    super(scope, id);
    const workloadObject = ApiObject.of(props.workload);
    const templatePath = TEMPLATE_PATHS[workloadObject.kind];
    if (templatePath === undefined) {
      throw new Error(
        `ApiAccess: workload kind "${workloadObject.kind}" cannot be bound; use a Deployment, StatefulSet, DaemonSet or CronJob (a Job's pod template cannot change after creation)`,
      );
    }
    const name = props.name ?? workloadObject.name;
    const namespace = props.namespace ?? workloadObject.metadata.namespace ?? Chart.of(this).namespace;
    if (namespace === undefined) {
      throw new Error(`ApiAccess: namespace is not set for profile "${name}"; set props.namespace, the workload's namespace or the chart's`);
    }
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(name) || name.length > 63) {
      throw new Error(`ApiAccess: name must be a DNS-1123 subdomain of at most 63 characters, got "${name}"`);
    }
    const parsed = parseSpec(props.spec);
    if (!parsed.ok) throw new Error(`ApiAccess "${name}": invalid props: ${parsed.message}`);

    this.profile = resolveProfile({ name, namespace, spec: parsed.spec });
    if (this.profile.proxy !== undefined && this.profile.permissions.clusterRoles.length > 0) {
      throw new Error(
        `ApiAccess "${name}": auth Proxy with spec.permissions.clusterRoles (${this.profile.permissions.clusterRoles.join(', ')}): the proxy's rules must be rendered now, and a ClusterRole's rules are only known in the cluster; list the rules in spec.permissions.rules, or let the operator expand them (apply the ApiAccessProfile alone)`,
      );
    }
    const pod = selectableContainers(props.workload);
    const result = podTemplateInjection(this.profile, pod, { proxyImage: props.proxyImage ?? defaultOperatorImage() });
    const { injection, missingContainers } = result;
    if (missingContainers.length > 0) {
      const has = [...pod.containers, ...pod.nativeSidecars.map((c) => `${c} (native sidecar)`)];
      throw new Error(
        `ApiAccess "${name}": spec.containers names ${missingContainers.map((c) => `"${c}"`).join(', ')}, but the workload has ${has.map((c) => `"${c}"`).join(', ')}`,
      );
    }
    const current = props.workload.serviceAccount?.name;
    if (current !== undefined && current !== this.profile.serviceAccount.name) {
      throw new Error(
        `ApiAccess "${name}": the workload already runs as ServiceAccount "${current}", but the profile uses "${this.profile.serviceAccount.name}"; set spec.serviceAccount.name to "${current}" (and create: false if it is defined elsewhere)`,
      );
    }
    this.injection = injection;
    const conflicts = injectionConflicts(this.profile, { spec: renderedPodSpec(workloadObject, templatePath) as never }, result);
    if (conflicts.length > 0) throw new Error(`ApiAccess "${name}": ${conflicts.map((c) => c.message).join('; ')}`);

    // The owned objects come first: `kubectl apply` creates them before the profile exists, so the
    // operator (which applies the same objects for the profile) never wins a create race against it.
    this.renderOwnedObjects();
    this.profileObject = new ApiObject(this, 'profile', {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name, namespace },
      spec: props.spec,
    });
    this.bindWorkload(props.workload, workloadObject, templatePath);
  }

  private renderOwnedObjects(): void {
    for (const { apiVersion, kind, metadata, ...rest } of desiredObjects(this.profile)) {
      const rendered = new ApiObject(this, `${kind}-${metadata.name}`, { apiVersion, kind, metadata, ...rest });
      // cdk8s stamps a chart's namespace on every object; a cluster-scoped object must not carry one.
      if (metadata.namespace === undefined && rendered.metadata.namespace !== undefined) {
        rendered.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
      }
    }
  }

  // cdk8s-plus has no API for several injected fields (serviceAccount alias, projected volumes), so
  // the injection is written with JSON patches computed from the workload as configured now; a
  // validation at synth time catches containers, env or volumes added after this point.
  private bindWorkload(workload: BindableWorkload, object: ApiObject, templatePath: string): void {
    workload.metadata.addLabel(PROFILE_LABEL, this.profile.name);
    workload.metadata.addLabel(INJECTED_LABEL, this.profile.name);
    for (const [key, value] of Object.entries(this.injection.metadata.annotations)) workload.podMetadata.addAnnotation(key, value);

    const spec = `${templatePath}/spec`;
    // What cdk8s renders now (cdk8s-plus adds the volumes of container mounts at render time).
    const rendered = renderedPodSpec(object, templatePath);
    const { serviceAccountName, serviceAccount, automountServiceAccountToken, volumes, containers, initContainers } = this.injection.spec;
    const patches = [
      JsonPatch.add(`${spec}/serviceAccountName`, serviceAccountName),
      JsonPatch.add(`${spec}/serviceAccount`, serviceAccount),
      JsonPatch.add(`${spec}/automountServiceAccountToken`, automountServiceAccountToken),
    ];
    patches.push(...appendPatches(`${spec}/volumes`, rendered.volumes?.length ?? 0, volumes ?? []));
    const shapeBefore = workloadShape(workload);
    patches.push(...containerPatches(`${spec}/containers`, rendered.containers, containers ?? []));
    const sidecar = (initContainers ?? []).find((c) => c.name === PROXY_CONTAINER);
    const injectedSidecars = (initContainers ?? []).filter((c) => c !== sidecar);
    patches.push(...containerPatches(`${spec}/initContainers`, rendered.initContainers ?? [], injectedSidecars));
    // Last, as the indexes above are of the rendered list: the proxy goes first among the init containers.
    if (sidecar !== undefined) {
      // The L1 workload maps resources through Quantity objects after the patches: plain strings would be dropped.
      const { resources } = sidecar as { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } };
      const quantities = (list: Record<string, string> | undefined): Record<string, k8s.Quantity> => Object.fromEntries(Object.entries(list ?? {}).map(([k, v]) => [k, k8s.Quantity.fromString(v)]));
      const rendering = { ...sidecar, resources: { requests: quantities(resources?.requests), limits: quantities(resources?.limits) } };
      patches.push((rendered.initContainers?.length ?? 0) === 0 ? JsonPatch.add(`${spec}/initContainers`, [rendering]) : JsonPatch.add(`${spec}/initContainers/0`, rendering));
    }
    object.addJsonPatch(...patches);
    this.node.addValidation({
      validate: (): string[] =>
        workloadShape(workload) === shapeBefore
          ? []
          : [`ApiAccess "${this.profile.name}": containers, env or volumes of workload "${object.name}" changed after ApiAccess was created; create ApiAccess last`],
    });
  }
}

/** The injected env and mounts of each selected container, appended to what it renders now. */
function containerPatches(path: string, rendered: readonly RenderedContainer[], injected: readonly ContainerInjection[]): JsonPatch[] {
  return injected.flatMap((wanted) => {
    const index = rendered.findIndex((c) => c.name === wanted.name);
    const container = rendered[index];
    if (container === undefined) return [];
    return [
      ...appendPatches(`${path}/${index}/env`, container.env?.length ?? 0, wanted.env),
      ...appendPatches(`${path}/${index}/volumeMounts`, container.volumeMounts?.length ?? 0, wanted.volumeMounts),
    ];
  });
}

/** Native sidecars (init containers with restartPolicy Always) are selected as app containers are. */
function selectableContainers(workload: BindableWorkload): SelectableContainers {
  return {
    containers: workload.containers.map((c) => c.name),
    nativeSidecars: workload.initContainers.filter((c) => c.restartPolicy === kplus.ContainerRestartPolicy.ALWAYS).map((c) => c.name),
  };
}

/** JSON patches that append items to an array that may not be rendered yet (cdk8s omits empty arrays). */
function appendPatches(path: string, existing: number, items: readonly unknown[]): JsonPatch[] {
  if (items.length === 0) return [];
  if (existing === 0) return [JsonPatch.add(path, [...items])];
  return items.map((item) => JsonPatch.add(`${path}/-`, item));
}

interface RenderedContainer {
  name: string;
  env?: unknown[];
  volumeMounts?: unknown[];
}
interface RenderedPodSpec {
  volumes?: unknown[];
  containers: RenderedContainer[];
  initContainers?: RenderedContainer[];
}

function renderedPodSpec(object: ApiObject, templatePath: string): RenderedPodSpec {
  let node: unknown = object.toJson();
  for (const key of `${templatePath}/spec`.split('/').slice(1)) node = (node as Record<string, unknown>)[key];
  return node as RenderedPodSpec;
}

// Changes made through cdk8s-plus after ApiAccess was created show up here (the rendered JSON would
// already include this construct's patches, which may have overwritten them).
function workloadShape(workload: BindableWorkload): string {
  return JSON.stringify({
    volumes: workload.volumes.map((v) => v.name),
    containers: [...workload.containers, ...workload.initContainers].map((c) => [c.name, c.restartPolicy, Object.keys(c.env.variables), c.mounts.map((m) => [m.path, m.volume.name])]),
  });
}
