// Names derived from a profile. Profile names may be 253-character DNS subdomains, but several derived
// names have tighter limits (a volume name is a 63-character DNS-1123 label); those are shortened
// deterministically with a hash suffix so two long profile names never collide.
import { createHash } from 'node:crypto';

const DNS_LABEL_MAX = 63;
const DNS_SUBDOMAIN_MAX = 253;
const HASH_LENGTH = 8;

export function shortHash(input: string, length = HASH_LENGTH): string {
  return createHash('sha256').update(input).digest('hex').slice(0, length);
}

/** Fits `name` into `max` characters: unchanged when it fits, else a prefix plus '-' plus a hash of the whole name. */
export function fitName(name: string, max: number): string {
  if (name.length <= max) return name;
  const prefix = name.slice(0, max - HASH_LENGTH - 1).replace(/[-.:]+$/, '');
  return `${prefix}-${shortHash(name)}`;
}

/** The pod volume carrying the kubeconfig: a DNS-1123 label (no dots, at most 63 characters). */
export function volumeName(profile: string): string {
  return fitName(`apiaccess-${profile.replace(/\./g, '-')}`, DNS_LABEL_MAX);
}

/** The operator-owned ConfigMap holding a generated kubeconfig. */
export function kubeconfigConfigMapName(profile: string): string {
  const name = `apiaccess-${profile}-kubeconfig`;
  return name.length <= DNS_SUBDOMAIN_MAX ? name : `${fitName(`apiaccess-${profile}`, DNS_SUBDOMAIN_MAX - '-kubeconfig'.length)}-kubeconfig`;
}

/** Role and RoleBinding in the profile's namespace. */
export function namespacedRbacName(profile: string): string {
  return fitName(`apiaccess:${profile}`, DNS_SUBDOMAIN_MAX);
}

/** ClusterRole and ClusterRoleBinding: cluster-wide, so the namespace is part of the name. */
export function clusterRbacName(namespace: string, profile: string): string {
  return fitName(`apiaccess:${namespace}:${profile}`, DNS_SUBDOMAIN_MAX);
}

/** A binding of a referenced ClusterRole (one binding per roleRef). */
export function referencedRoleBindingName(base: string, clusterRole: string): string {
  return fitName(`${base}:${clusterRole}`, DNS_SUBDOMAIN_MAX);
}

/** The operator-owned ConfigMap holding the proxy sidecar's rules (Proxy mode). */
export function proxyConfigMapName(profile: string): string {
  const name = `apiaccess-${profile}-proxy`;
  return name.length <= DNS_SUBDOMAIN_MAX ? name : `${fitName(`apiaccess-${profile}`, DNS_SUBDOMAIN_MAX - '-proxy'.length)}-proxy`;
}

/** The pod volume only the proxy sidecar mounts: its token, the cluster CA and its rules. */
export function proxyVolumeName(profile: string): string {
  return fitName(`apiaccess-${profile.replace(/\./g, '-')}-proxy`, DNS_LABEL_MAX);
}
