// Exactly which pod-template fields a profile injects into a bound workload, in each mode. The
// operator applies this by server-side apply (and applies an empty intent to remove it); the cdk8s
// construct renders it into static YAML. Both use this one function.
import type { V1Container, V1EnvVar, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { CONFIG_HASH_ANNOTATION, KUBECONFIG_DIGEST_ANNOTATION, PROXY_CONTAINER } from '../../crds/apiaccessprofile.ts';
import { PROXY_RULES_KEY } from '../proxy/rules-file.ts';
import { CA_FILE, desiredKubeconfigConfigMap, KUBECONFIG_FILE, proxyUrl, ROOT_CA_CONFIGMAP, TOKEN_FILE } from './kubeconfig.ts';
import { shortHash, kubeconfigConfigMapName, proxyConfigMapName, proxyVolumeName, volumeName } from './names.ts';
import { PROXY_MOUNT_PATH } from '../../crds/proxy-sidecar.ts';
import { PROXY_ENV, proxyContainer } from './proxy.ts';
import { kubeconfigPath, type ResolvedProfile } from './profile.ts';

/** The volume `defaultMode` of seed 000 and of the API server's own default. */
export const DEFAULT_VOLUME_MODE = 0o644;

export interface ContainerInjection {
  name: string;
  env: V1EnvVar[];
  volumeMounts: V1VolumeMount[];
}

/** The injected fields of a pod template, shaped as a server-side apply configuration. */
export interface PodTemplateInjection {
  metadata: { annotations: Record<string, string> };
  spec: {
    serviceAccountName: string;
    /** The deprecated alias, owned too: otherwise removing serviceAccountName lets the API server copy the old value back. */
    serviceAccount: string;
    automountServiceAccountToken: boolean;
    volumes?: V1Volume[];
    containers?: ContainerInjection[];
    /** Native sidecars: server-side apply merges these into spec.initContainers by name. Proxy mode's own sidecar comes first, whole. */
    initContainers?: Array<ContainerInjection | (V1Container & ContainerInjection)>;
  };
}

/**
 * The containers of a pod template that a profile can select, each in template order: the app
 * containers and the native sidecars (init containers with `restartPolicy: Always`). Ordinary init
 * containers are not selectable: they run before the app and are not part of its access.
 */
export interface SelectableContainers {
  containers: readonly string[];
  nativeSidecars: readonly string[];
}

export interface InjectionResult {
  injection: PodTemplateInjection;
  hash: string;
  /** Containers the profile names that the pod template does not have. */
  missingContainers: string[];
}

export interface InjectionOptions {
  /**
   * A digest of the user's kubeconfig (source ConfigMap), which the operator reads: injected as its
   * own annotation, so an edit of that kubeconfig rolls the workload out. Not part of the config-hash,
   * which the construct renders too and cannot know this for.
   */
  sourceDigest?: string;
  /** Proxy mode: the image of the sidecar (the operator's own). Required when auth is Proxy. */
  proxyImage?: string;
}

/**
 * @param pod the pod template's selectable containers; a plain list names app containers only.
 */
export function podTemplateInjection(profile: ResolvedProfile, pod: SelectableContainers | readonly string[], options: InjectionOptions = {}): InjectionResult {
  const listed = isNameList(pod) ? { containers: pod, nativeSidecars: [] } : pod;
  // The operator's own sidecar is never a target (the cache shows it once injected).
  const containers = listed.containers;
  const nativeSidecars = listed.nativeSidecars.filter((c) => c !== PROXY_CONTAINER);
  const select = (names: readonly string[]): string[] => (profile.containers === undefined ? [...names] : profile.containers.filter((c) => names.includes(c)));
  const selected = { containers: select(containers), initContainers: select(nativeSidecars) };
  const missingContainers = (profile.containers ?? []).filter((c) => !containers.includes(c) && !nativeSidecars.includes(c));
  const sa = profile.serviceAccount.name;
  const spec: PodTemplateInjection['spec'] = {
    serviceAccountName: sa,
    serviceAccount: sa,
    automountServiceAccountToken: profile.auth === 'ServiceAccount',
  };
  const k = profile.kubeconfig;
  if (profile.auth !== 'ServiceAccount' && k !== undefined) {
    const volume = volumeName(profile.name);
    spec.volumes = [kubeconfigVolume(profile, volume)];
    const env: V1EnvVar[] = [{ name: k.env, value: kubeconfigPath(k) }];
    if (profile.proxy !== undefined) env.push({ name: PROXY_ENV, value: proxyUrl(profile.proxy.port) });
    const inject = (name: string): ContainerInjection => ({
      name,
      env: env.map((e) => ({ ...e })),
      volumeMounts: [{ name: volume, mountPath: k.mountPath, readOnly: true }],
    });
    // Set only when non-empty, so the config hash of a pod without native sidecars stays as it was.
    if (selected.containers.length > 0) spec.containers = selected.containers.map(inject);
    if (selected.initContainers.length > 0) spec.initContainers = selected.initContainers.map(inject);
    if (profile.proxy !== undefined) {
      if (options.proxyImage === undefined) throw new Error('auth Proxy needs the proxy image (the operator\'s own)');
      const sidecarVolume = proxyVolumeName(profile.name);
      spec.volumes.push(proxySidecarVolume(profile, sidecarVolume));
      const base = proxyContainer(profile, options.proxyImage);
      const sidecar = { ...base, env: base.env ?? [], volumeMounts: [{ name: sidecarVolume, mountPath: PROXY_MOUNT_PATH, readOnly: true }] };
      spec.initContainers = [sidecar, ...(spec.initContainers ?? [])];
    }
  }
  // The generated kubeconfig's content is part of the hash: a changed server rolls the workload out.
  const generated = desiredKubeconfigConfigMap(profile)?.data;
  const hash = shortHash(JSON.stringify({ spec, generated: generated ?? null }), 16);
  const annotations: Record<string, string> = { [CONFIG_HASH_ANNOTATION]: hash };
  if (options.sourceDigest !== undefined) annotations[KUBECONFIG_DIGEST_ANNOTATION] = options.sourceDigest;
  return { injection: { metadata: { annotations }, spec }, hash, missingContainers };
}

function isNameList(pod: SelectableContainers | readonly string[]): pod is readonly string[] {
  return Array.isArray(pod);
}

/** The kubelet-rotated token of a Generated kubeconfig or of the proxy sidecar. */
function projectedToken(k: Extract<ResolvedProfile['kubeconfig'], { source: 'Generated' }>): { path: string; expirationSeconds: number; audience?: string } {
  return { path: TOKEN_FILE, expirationSeconds: k.tokenExpirationSeconds, ...(k.audience !== undefined ? { audience: k.audience } : {}) };
}

/** Only the sidecar mounts it: the token (kubelet-rotated), the cluster CA and the rules. */
function proxySidecarVolume(profile: ResolvedProfile, name: string): V1Volume {
  const k = profile.kubeconfig;
  if (k === undefined || k.source !== 'Generated') throw new Error('proxySidecarVolume needs auth Proxy');
  return {
    name,
    projected: {
      defaultMode: DEFAULT_VOLUME_MODE,
      sources: [
        { serviceAccountToken: projectedToken(k) },
        { configMap: { name: ROOT_CA_CONFIGMAP, items: [{ key: CA_FILE, path: CA_FILE }] } },
        { configMap: { name: proxyConfigMapName(profile.name), items: [{ key: PROXY_RULES_KEY, path: PROXY_RULES_KEY }] } },
      ],
    },
  };
}

function kubeconfigVolume(profile: ResolvedProfile, name: string): V1Volume {
  const k = profile.kubeconfig;
  if (k === undefined) throw new Error('kubeconfigVolume needs auth Kubeconfig or Proxy');
  const items = [{ key: k.key, path: KUBECONFIG_FILE, mode: k.fileMode }];
  // Proxy mode: app containers get the kubeconfig only; the token stays with the sidecar.
  if (profile.proxy !== undefined) return { name, projected: { defaultMode: DEFAULT_VOLUME_MODE, sources: [{ configMap: { name: kubeconfigConfigMapName(profile.name), items } }] } };
  switch (k.source) {
    case 'Generated': {
      return {
        name,
        projected: {
          defaultMode: DEFAULT_VOLUME_MODE,
          sources: [
            { configMap: { name: kubeconfigConfigMapName(profile.name), items } },
            { serviceAccountToken: projectedToken(k) },
            { configMap: { name: ROOT_CA_CONFIGMAP, items: [{ key: CA_FILE, path: CA_FILE }] } },
          ],
        },
      };
    }
    case 'ConfigMap':
      return { name, configMap: { name: k.name, items, defaultMode: DEFAULT_VOLUME_MODE } };
    case 'Secret':
      return { name, secret: { secretName: k.name, items, defaultMode: DEFAULT_VOLUME_MODE } };
  }
}
