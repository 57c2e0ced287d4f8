// The API resources the operator talks to, and their REST paths. A static table instead of discovery:
// the operator only ever touches these kinds, and discovery would cost requests and RBAC rights.
import { GROUP as AAP_GROUP, KIND as AAP_KIND, PLURAL as AAP_PLURAL, VERSION as AAP_VERSION } from '../../crds/apiaccessprofile.ts';

export interface ResourceRef {
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

const ref = (group: string, version: string, plural: string, kind: string, namespaced: boolean): ResourceRef =>
  Object.freeze({ group, version, plural, kind, namespaced });

export const RESOURCES = Object.freeze({
  Namespace: ref('', 'v1', 'namespaces', 'Namespace', false),
  ServiceAccount: ref('', 'v1', 'serviceaccounts', 'ServiceAccount', true),
  Service: ref('', 'v1', 'services', 'Service', true),
  ConfigMap: ref('', 'v1', 'configmaps', 'ConfigMap', true),
  Pod: ref('', 'v1', 'pods', 'Pod', true),
  Event: ref('', 'v1', 'events', 'Event', true),
  /** Only for tests: the operator never reads Secrets. */
  Secret: ref('', 'v1', 'secrets', 'Secret', true),
  Role: ref('rbac.authorization.k8s.io', 'v1', 'roles', 'Role', true),
  RoleBinding: ref('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding', true),
  ClusterRole: ref('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false),
  ClusterRoleBinding: ref('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding', false),
  Deployment: ref('apps', 'v1', 'deployments', 'Deployment', true),
  StatefulSet: ref('apps', 'v1', 'statefulsets', 'StatefulSet', true),
  DaemonSet: ref('apps', 'v1', 'daemonsets', 'DaemonSet', true),
  ReplicaSet: ref('apps', 'v1', 'replicasets', 'ReplicaSet', true),
  Job: ref('batch', 'v1', 'jobs', 'Job', true),
  CronJob: ref('batch', 'v1', 'cronjobs', 'CronJob', true),
  Lease: ref('coordination.k8s.io', 'v1', 'leases', 'Lease', true),
  [AAP_KIND]: ref(AAP_GROUP, AAP_VERSION, AAP_PLURAL, AAP_KIND, true),
  SubjectAccessReview: ref('authorization.k8s.io', 'v1', 'subjectaccessreviews', 'SubjectAccessReview', false),
  CustomResourceDefinition: ref('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', false),
  ValidatingAdmissionPolicy: ref('admissionregistration.k8s.io', 'v1', 'validatingadmissionpolicies', 'ValidatingAdmissionPolicy', false),
  ValidatingAdmissionPolicyBinding: ref('admissionregistration.k8s.io', 'v1', 'validatingadmissionpolicybindings', 'ValidatingAdmissionPolicyBinding', false),
  MutatingAdmissionPolicy: ref('admissionregistration.k8s.io', 'v1', 'mutatingadmissionpolicies', 'MutatingAdmissionPolicy', false),
  MutatingAdmissionPolicyBinding: ref('admissionregistration.k8s.io', 'v1', 'mutatingadmissionpolicybindings', 'MutatingAdmissionPolicyBinding', false),
} satisfies Record<string, ResourceRef>);

export type KnownKind = keyof typeof RESOURCES;

/** `v1` for the core group, `<group>/<version>` otherwise. */
export function apiVersionOf(resource: ResourceRef): string {
  return resource.group === '' ? resource.version : `${resource.group}/${resource.version}`;
}

/** The resource of a kind the operator knows; throws naming the apiVersion and kind otherwise. */
export function resourceFor(apiVersion: string, kind: string): ResourceRef {
  const resource = Object.hasOwn(RESOURCES, kind) ? (RESOURCES as Readonly<Record<string, ResourceRef>>)[kind] : undefined;
  if (resource === undefined) {
    throw new Error(`Unknown resource kind ${kind} (apiVersion ${apiVersion}): known kinds are ${Object.keys(RESOURCES).join(', ')}`);
  }
  if (apiVersionOf(resource) !== apiVersion) {
    throw new Error(`Unknown resource ${apiVersion}, Kind=${kind}: ${kind} is served as ${apiVersionOf(resource)}`);
  }
  return resource;
}

/** `/api/v1[/namespaces/<ns>]/<plural>` or `/apis/<group>/<version>[/namespaces/<ns>]/<plural>`. */
export function collectionPath(resource: ResourceRef, namespace?: string): string {
  const root = resource.group === '' ? `/api/${resource.version}` : `/apis/${resource.group}/${resource.version}`;
  if (!resource.namespaced || namespace === undefined || namespace === '') {
    // A namespaced resource without a namespace is the all-namespaces collection (list/watch).
    return `${root}/${resource.plural}`;
  }
  return `${root}/namespaces/${segment(namespace, 'namespace')}/${resource.plural}`;
}

/** The path of one object (and optionally its subresource, e.g. `status`). */
export function objectPath(resource: ResourceRef, namespace: string | undefined, name: string, subresource?: string): string {
  if (resource.namespaced && (namespace === undefined || namespace === '')) {
    throw new Error(`${resource.kind} ${name} is namespaced: a namespace is required`);
  }
  const base = `${collectionPath(resource, resource.namespaced ? namespace : undefined)}/${segment(name, 'name')}`;
  return subresource === undefined ? base : `${base}/${segment(subresource, 'subresource')}`;
}

function segment(value: string, what: string): string {
  if (value === '' || value === '.' || value === '..' || value.includes('/')) {
    throw new Error(`Invalid ${what} ${JSON.stringify(value)} in an API path`);
  }
  // ':' stays readable (system:aggregate-to-view); everything else unusual is escaped.
  return encodeURIComponent(value).replaceAll('%3A', ':');
}
