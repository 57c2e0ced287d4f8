// Desired ServiceAccount and RBAC objects for a profile (pure).
import type { V1ClusterRole, V1ClusterRoleBinding, V1PolicyRule, V1Role, V1RoleBinding, V1ServiceAccount } from '@kubernetes/client-node';
import type { PolicyRule } from '../../crds/apiaccessprofile.ts';
import { ownedLabels, ownerReferences } from './labels.ts';
import { clusterRbacName, namespacedRbacName, referencedRoleBindingName } from './names.ts';
import type { ResolvedProfile } from './profile.ts';

const RBAC_API = 'rbac.authorization.k8s.io/v1';

export interface DesiredRbac {
  /** Only when the profile creates its ServiceAccount. */
  serviceAccount?: V1ServiceAccount;
  /** Namespace scope: a Role (only when inline rules exist) and RoleBindings. */
  roles: V1Role[];
  roleBindings: V1RoleBinding[];
  /** Cluster scope: a ClusterRole (only when inline rules exist) and ClusterRoleBindings. */
  clusterRoles: V1ClusterRole[];
  clusterRoleBindings: V1ClusterRoleBinding[];
}

export function desiredServiceAccount(profile: ResolvedProfile): V1ServiceAccount | undefined {
  if (!profile.serviceAccount.create) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: namespacedMeta(profile, profile.serviceAccount.name),
  };
}

export function desiredRbac(profile: ResolvedProfile): DesiredRbac {
  const subjects = [{ kind: 'ServiceAccount', name: profile.serviceAccount.name, namespace: profile.namespace }];
  const { scope, rules, clusterRoles } = profile.permissions;
  const out: DesiredRbac = { roles: [], roleBindings: [], clusterRoles: [], clusterRoleBindings: [] };
  const sa = desiredServiceAccount(profile);
  if (sa !== undefined) out.serviceAccount = sa;

  // Namespace scope: Role + RoleBindings in the profile's namespace; Cluster scope: the cluster-wide
  // kinds, named with the namespace (they share one name space across namespaces).
  const cluster = scope === 'Cluster';
  const name = cluster ? clusterRbacName(profile.namespace, profile.name) : namespacedRbacName(profile.name);
  const metadata = (n: string): V1ObjectMetaLike => (cluster ? clusterMeta(profile, n) : namespacedMeta(profile, n));
  const roles: Array<V1Role | V1ClusterRole> = cluster ? out.clusterRoles : out.roles;
  const bindings: Array<V1RoleBinding | V1ClusterRoleBinding> = cluster ? out.clusterRoleBindings : out.roleBindings;
  const binding = (bindingName: string, roleKind: 'Role' | 'ClusterRole', roleName: string): V1RoleBinding => ({
    apiVersion: RBAC_API,
    kind: cluster ? 'ClusterRoleBinding' : 'RoleBinding',
    metadata: metadata(bindingName),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name: roleName },
    subjects,
  });
  if (rules.length > 0) {
    roles.push({ apiVersion: RBAC_API, kind: cluster ? 'ClusterRole' : 'Role', metadata: metadata(name), rules: rules.map(policyRule) });
    bindings.push(binding(name, cluster ? 'ClusterRole' : 'Role', name));
  }
  for (const role of clusterRoles) bindings.push(binding(referencedRoleBindingName(name, role), 'ClusterRole', role));
  return out;
}

type V1ObjectMetaLike = { name: string; namespace?: string; labels: Record<string, string> };

/** Copies only the fields a PolicyRule has, dropping empty optional lists so the output stays minimal. */
function policyRule(rule: PolicyRule): V1PolicyRule {
  const out: V1PolicyRule = { verbs: [...rule.verbs] };
  if (rule.apiGroups !== undefined) out.apiGroups = [...rule.apiGroups];
  if (rule.resources !== undefined && rule.resources.length > 0) out.resources = [...rule.resources];
  if (rule.resourceNames !== undefined && rule.resourceNames.length > 0) out.resourceNames = [...rule.resourceNames];
  if (rule.nonResourceURLs !== undefined && rule.nonResourceURLs.length > 0) out.nonResourceURLs = [...rule.nonResourceURLs];
  return out;
}

export interface NamespacedMeta {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  ownerReferences?: ReturnType<typeof ownerReferences>;
}

export function namespacedMeta(profile: ResolvedProfile, name: string): NamespacedMeta {
  const meta: NamespacedMeta = { name, namespace: profile.namespace, labels: ownedLabels(profile) };
  const owners = ownerReferences(profile);
  if (owners !== undefined) meta.ownerReferences = owners;
  return meta;
}

function clusterMeta(profile: ResolvedProfile, name: string): { name: string; labels: Record<string, string> } {
  return { name, labels: ownedLabels(profile) };
}
