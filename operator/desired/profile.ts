// Resolves the defaults of a parsed profile that depend on other fields (the CRD can only express
// static defaults), so every builder works from one complete, explicit value.
import {
  DEFAULT_GENERATED_FILE_MODE,
  DEFAULT_PROXY_PORT,
  DEFAULT_PROXY_RESOURCES,
  DEFAULT_PROXY_TOKEN_EXPIRATION_SECONDS,
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
  /** Present exactly when auth is Kubeconfig or Proxy (then always Generated: its server is the proxy's upstream). */
  kubeconfig?: ResolvedKubeconfig;
  /** Present exactly when auth is Proxy. */
  proxy?: ResolvedProxy;
  /** Containers to inject; undefined means every container of the pod template. */
  containers?: string[];
}

export interface ResourceList {
  cpu: string;
  memory: string;
}

export interface ResolvedProxy {
  port: number;
  resources: { requests: ResourceList; limits: ResourceList };
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
  if (spec.auth !== 'ServiceAccount') resolved.kubeconfig = resolveKubeconfig(spec.kubeconfig ?? KubeconfigSchema.parse({}), spec.auth);
  if (spec.auth === 'Proxy') {
    const r = spec.proxy?.resources;
    resolved.proxy = {
      port: spec.proxy?.port ?? DEFAULT_PROXY_PORT,
      resources: { requests: { ...DEFAULT_PROXY_RESOURCES.requests, ...r?.requests }, limits: { ...DEFAULT_PROXY_RESOURCES.limits, ...r?.limits } },
    };
  }
  return resolved;
}

function resolveKubeconfig(k: NonNullable<ParsedProfile['spec']['kubeconfig']>, auth: AuthMode): ResolvedKubeconfig {
  const mountPath = k.mountPath.length > 1 ? k.mountPath.replace(/\/+$/, '') : k.mountPath;
  if (k.source === 'Generated') {
    const generated: ResolvedKubeconfig = {
      source: 'Generated',
      key: k.key,
      server: k.server ?? DEFAULT_SERVER,
      mountPath,
      fileMode: k.fileMode ?? DEFAULT_GENERATED_FILE_MODE,
      env: k.env,
      tokenExpirationSeconds: k.tokenExpirationSeconds ?? (auth === 'Proxy' ? DEFAULT_PROXY_TOKEN_EXPIRATION_SECONDS : DEFAULT_TOKEN_EXPIRATION_SECONDS),
    };
    if (k.audience !== undefined && k.audience !== '') generated.audience = k.audience;
    return generated;
  }
  if (auth === 'Proxy') throw new Error(`auth Proxy needs spec.kubeconfig.source Generated, not ${k.source}`);
  if (k.name === undefined) throw new Error(`spec.kubeconfig.name is required when source is ${k.source}`);
  return { source: k.source, name: k.name, key: k.key, mountPath, fileMode: k.fileMode ?? DEFAULT_USER_FILE_MODE, env: k.env };
}

/** Path of the kubeconfig file inside the container. */
export function kubeconfigPath(k: ResolvedKubeconfig): string {
  return `${k.mountPath === '/' ? '' : k.mountPath}/kubeconfig`;
}
