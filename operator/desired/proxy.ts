// Proxy mode's desired state: the rules file the sidecar enforces (the profile's grant, referenced
// ClusterRoles expanded), and the native sidecar container itself. Pure; shared by the operator and
// the cdk8s construct.
import type { V1ConfigMap, V1Container } from '@kubernetes/client-node';
import type { PolicyRule } from '../../crds/apiaccessprofile.ts';
import { PROXY_CONTAINER, PROXY_MOUNT_PATH } from '../../crds/proxy-sidecar.ts';
import { PROXY_RULES_KEY, PROXY_RULES_VERSION, type ProxyRulesFile } from '../proxy/rules-file.ts';
import { CA_FILE, TOKEN_FILE } from './kubeconfig.ts';
import { proxyConfigMapName } from './names.ts';
import type { ResolvedProfile } from './profile.ts';
import { namespacedMeta } from './rbac.ts';

/** The operator image's entrypoint (test/images/operator-image.ts). */
export const PROXY_ENTRYPOINT = '/usr/local/bin/apiaccess';
/** The env var app containers get for curl-style use, besides the kubeconfig. */
export const PROXY_ENV = 'KUBERNETES_API_PROXY';

/** The rules the proxy enforces; `clusterRoleRules` maps each referenced ClusterRole to its rules (undefined: not found). */
export function proxyRules(profile: ResolvedProfile, clusterRoleRules: ReadonlyMap<string, readonly PolicyRule[] | undefined>): ProxyRulesFile {
  const { permissions } = profile;
  const missing = permissions.clusterRoles.filter((role) => clusterRoleRules.get(role) === undefined);
  return {
    version: PROXY_RULES_VERSION,
    profile: `${profile.namespace}/${profile.name}`,
    user: `system:serviceaccount:${profile.namespace}:${profile.serviceAccount.name}`,
    scope: permissions.scope,
    namespace: profile.namespace,
    rules: [...permissions.rules, ...permissions.clusterRoles.flatMap((role) => clusterRoleRules.get(role) ?? [])],
    missingClusterRoles: missing,
  };
}

/** The operator-owned ConfigMap of the proxy's rules; undefined unless auth is Proxy. */
export function desiredProxyConfigMap(profile: ResolvedProfile, clusterRoleRules: ReadonlyMap<string, readonly PolicyRule[] | undefined>): V1ConfigMap | undefined {
  if (profile.proxy === undefined) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: namespacedMeta(profile, proxyConfigMapName(profile.name)),
    data: { [PROXY_RULES_KEY]: `${JSON.stringify(proxyRules(profile, clusterRoleRules), null, 2)}\n` },
  };
}

/**
 * The native sidecar: first among the init containers, `restartPolicy: Always` (so Jobs complete),
 * compliant with the `restricted` Pod Security Standard, requests and limits always set. Its startup
 * probe holds back the next containers until it listens (a kubelet probe cannot reach 127.0.0.1).
 */
export function proxyContainer(profile: ResolvedProfile, image: string): V1Container {
  const proxy = profile.proxy;
  const k = profile.kubeconfig;
  if (proxy === undefined || k === undefined || k.source !== 'Generated') throw new Error('proxyContainer needs auth Proxy');
  return {
    name: PROXY_CONTAINER,
    image,
    imagePullPolicy: 'IfNotPresent',
    restartPolicy: 'Always',
    command: [PROXY_ENTRYPOINT],
    args: [
      'proxy',
      `--port=${proxy.port}`,
      `--server=${k.server}`,
      `--token-file=${PROXY_MOUNT_PATH}/${TOKEN_FILE}`,
      `--certificate-authority=${PROXY_MOUNT_PATH}/${CA_FILE}`,
      `--rules=${PROXY_MOUNT_PATH}/${PROXY_RULES_KEY}`,
    ],
    // The heap a proxy needs is small; without a bound V8 sizes it from the node's memory, not the limit.
    env: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=64' }],
    resources: { requests: { ...proxy.resources.requests }, limits: { ...proxy.resources.limits } },
    securityContext: {
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    startupProbe: { exec: { command: [PROXY_ENTRYPOINT, 'proxy', '--probe', `--port=${proxy.port}`] }, periodSeconds: 1, failureThreshold: 60, timeoutSeconds: 5 },
    volumeMounts: [],
  };
}
