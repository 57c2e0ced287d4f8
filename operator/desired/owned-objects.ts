// Every object the operator creates and owns for a profile, in apply order: the reconciler applies
// them (and deletes owned objects not in the list), `apiaccess preview` dry-runs them and the
// `ApiAccess` construct renders them, all from this one list.
import type { PolicyRule } from '../../crds/apiaccessprofile.ts';
import type { OwnerReference } from './labels.ts';
import { desiredKubeconfigConfigMap } from './kubeconfig.ts';
import { desiredProxyConfigMap } from './proxy.ts';
import type { ResolvedProfile } from './profile.ts';
import { desiredRbac } from './rbac.ts';

export type OwnedKind = 'ServiceAccount' | 'Role' | 'RoleBinding' | 'ClusterRole' | 'ClusterRoleBinding' | 'ConfigMap';

/** A plain object as applied; cluster-scoped kinds have no `metadata.namespace`. */
export interface OwnedObject {
  apiVersion: string;
  kind: OwnedKind;
  metadata: { name: string; namespace?: string; labels: Record<string, string>; ownerReferences?: OwnerReference[] };
  [field: string]: unknown;
}

/**
 * The ServiceAccount (only when the profile creates it), the Roles then RoleBindings (Namespace
 * scope) or ClusterRoles then ClusterRoleBindings (Cluster scope), and the generated kubeconfig
 * ConfigMap (Kubeconfig/Generated and Proxy), and the proxy's rules ConfigMap (Proxy, built from
 * `clusterRoleRules`: each referenced ClusterRole's rules, undefined when not found). A role comes
 * before the bindings that name it.
 */
export function desiredObjects(profile: ResolvedProfile, clusterRoleRules: ReadonlyMap<string, readonly PolicyRule[] | undefined> = new Map()): OwnedObject[] {
  const rbac = desiredRbac(profile);
  const objects = [
    rbac.serviceAccount,
    ...rbac.roles,
    ...rbac.roleBindings,
    ...rbac.clusterRoles,
    ...rbac.clusterRoleBindings,
    desiredKubeconfigConfigMap(profile),
    desiredProxyConfigMap(profile, clusterRoleRules),
  ];
  // The builders always set apiVersion, kind and metadata; client-node's types only make them optional.
  return objects.filter((o) => o !== undefined) as OwnedObject[];
}
