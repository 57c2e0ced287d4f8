// Resolves the defaults of a parsed profile that depend on other fields (the CRD can only express
// static defaults), so every builder works from one complete, explicit value.
import {
  DEFAULT_GENERATED_FILE_MODE,
  DEFAULT_SERVER,
  DEFAULT_TOKEN_EXPIRATION_SECONDS,
  DEFAULT_USER_FILE_MODE,
  KubeconfigSchema,
  type AuthMode,
  type ParsedProfile,
  type PolicyRule,
  type Scope,
} from '../../crds/apiaccessprofile.ts';

export type ResolvedKubeconfig =
  | {
      source: 'Generated';
      key: string;
      server: string;
      mountPath: string;
      fileMode: number;
      env: string;
      tokenExpirationSeconds: number;
      audience?: string;
    }
  | { source: 'ConfigMap' | 'Secret'; name: string; key: string; mountPath: string; fileMode: number; env: string };

export interface ResolvedProfile {
  name: string;
  namespace: string;
  uid?: string;
  auth: AuthMode;
  serviceAccount: { name: string; create: boolean };
  permissions: { scope: Scope; rules: PolicyRule[]; clusterRoles: string[] };
  /** Present exactly when auth is Kubeconfig. */
  kubeconfig?: ResolvedKubeconfig;
  /** Containers to inject; undefined means every container of the pod template. */
  containers?: string[];
}

export function resolveProfile(profile: ParsedProfile): ResolvedProfile {
  const { spec } = profile;
  const resolved: ResolvedProfile = {
    name: profile.name,
    namespace: profile.namespace,
    auth: spec.auth,
    serviceAccount: { name: spec.serviceAccount.name ?? profile.name, create: spec.serviceAccount.create },
    permissions: {
      scope: spec.permissions.scope,
      rules: spec.permissions.rules,
      clusterRoles: [...new Set(spec.permissions.clusterRoles)],
    },
  };
  if (profile.uid !== undefined) resolved.uid = profile.uid;
  if (spec.containers !== undefined) resolved.containers = [...new Set(spec.containers)];
  if (spec.auth === 'Kubeconfig') resolved.kubeconfig = resolveKubeconfig(spec.kubeconfig ?? KubeconfigSchema.parse({}));
  return resolved;
}

function resolveKubeconfig(k: NonNullable<ParsedProfile['spec']['kubeconfig']>): ResolvedKubeconfig {
  const mountPath = k.mountPath.length > 1 ? k.mountPath.replace(/\/+$/, '') : k.mountPath;
  if (k.source === 'Generated') {
    const generated: ResolvedKubeconfig = {
      source: 'Generated',
      key: k.key,
      server: k.server ?? DEFAULT_SERVER,
      mountPath,
      fileMode: k.fileMode ?? DEFAULT_GENERATED_FILE_MODE,
      env: k.env,
      tokenExpirationSeconds: k.tokenExpirationSeconds ?? DEFAULT_TOKEN_EXPIRATION_SECONDS,
    };
    if (k.audience !== undefined && k.audience !== '') generated.audience = k.audience;
    return generated;
  }
  if (k.name === undefined) throw new Error(`spec.kubeconfig.name is required when source is ${k.source}`);
  return { source: k.source, name: k.name, key: k.key, mountPath, fileMode: k.fileMode ?? DEFAULT_USER_FILE_MODE, env: k.env };
}

/** Path of the kubeconfig file inside the container. */
export function kubeconfigPath(k: ResolvedKubeconfig): string {
  return `${k.mountPath === '/' ? '' : k.mountPath}/kubeconfig`;
}
