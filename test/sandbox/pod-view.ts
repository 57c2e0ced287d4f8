// What the kubelet would give one container of a Pod: the files of every volume it mounts (with the
// kubelet's file modes), the mounts, and the environment. Data is read with the admin credentials,
// as the kubelet reads it with its own.
import type {
  V1Container,
  V1DownwardAPIVolumeFile,
  V1KeyToPath,
  V1ObjectFieldSelector,
  V1Pod,
  V1Volume,
  V1VolumeProjection,
} from '@kubernetes/client-node';
import { apiJson, apiRequest, type ApiTarget } from '../cluster/api-request.ts';

export const SERVICE_ACCOUNT_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';
const DEFAULT_FILE_MODE = 0o644;

export interface PodFile {
  /** Relative to the volume's root. */
  readonly path: string;
  readonly content: Buffer;
  readonly mode: number;
}

export interface PodVolume {
  readonly name: string;
  readonly files: readonly PodFile[];
  /** configMap, secret, projected and downwardAPI volumes are always mounted read-only by the kubelet. */
  readonly alwaysReadOnly: boolean;
}

export interface PodMount {
  readonly volume: string;
  readonly mountPath: string;
  readonly subPath?: string;
  readonly readOnly: boolean;
}

export interface PodView {
  readonly volumes: readonly PodVolume[];
  readonly mounts: readonly PodMount[];
  readonly env: Readonly<Record<string, string>>;
  readonly workingDir: string;
}

export interface ServiceEndpoint {
  readonly host: string;
  readonly port: number;
}

interface KeyedData {
  readonly data: Readonly<Record<string, Buffer>>;
}

export async function podView(api: ApiTarget, pod: V1Pod, containerName: string | undefined, service: ServiceEndpoint): Promise<PodView> {
  const container = findContainer(pod, containerName);
  const reader = new PodSources(api, pod);
  const mounts: PodMount[] = (container.volumeMounts ?? []).map((m) => ({
    volume: m.name,
    mountPath: m.mountPath,
    ...(m.subPath ? { subPath: m.subPath } : {}),
    readOnly: m.readOnly ?? false,
  }));
  const volumeSpecs = [...(pod.spec?.volumes ?? [])];
  if (!mounts.some((m) => m.mountPath === SERVICE_ACCOUNT_MOUNT) && (await reader.automountsToken())) {
    // Pods admitted by the ServiceAccount plugin already carry this volume; a Pod built by hand does not.
    volumeSpecs.push(kubeApiAccessVolume());
    mounts.push({ volume: 'kube-api-access-sandbox', mountPath: SERVICE_ACCOUNT_MOUNT, readOnly: true });
  }
  const used = new Set(mounts.map((m) => m.volume));
  const volumes: PodVolume[] = [];
  for (const spec of volumeSpecs.filter((v) => used.has(v.name))) volumes.push(await reader.volume(spec));
  const missing = [...used].filter((name) => !volumes.some((v) => v.name === name));
  if (missing.length > 0) throw new Error(`Container ${container.name} mounts undefined volume(s): ${missing.join(', ')}`);
  return { volumes, mounts, env: await reader.env(container, service), workingDir: container.workingDir ?? '/' };
}

function findContainer(pod: V1Pod, name: string | undefined): V1Container {
  const containers = pod.spec?.containers ?? [];
  const container = name === undefined ? containers[0] : containers.find((c) => c.name === name);
  if (!container) throw new Error(`Pod ${pod.metadata?.name} has no container ${name ?? '(none at all)'}`);
  return container;
}

/** The volume the ServiceAccount admission plugin adds (`kube-api-access-<random>`). */
function kubeApiAccessVolume(): V1Volume {
  return {
    name: 'kube-api-access-sandbox',
    projected: {
      defaultMode: 0o644,
      sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
      ],
    },
  };
}

class PodSources {
  private readonly namespace: string;

  constructor(
    private readonly api: ApiTarget,
    private readonly pod: V1Pod,
  ) {
    this.namespace = pod.metadata?.namespace ?? 'default';
  }

  async automountsToken(): Promise<boolean> {
    const fromPod = this.pod.spec?.automountServiceAccountToken;
    if (fromPod !== undefined) return fromPod;
    const sa = await apiJson<{ automountServiceAccountToken?: boolean }>(
      this.api,
      'GET',
      `/api/v1/namespaces/${this.namespace}/serviceaccounts/${this.serviceAccountName()}`,
    );
    return sa.automountServiceAccountToken ?? true;
  }

  async volume(spec: V1Volume): Promise<PodVolume> {
    const name = spec.name;
    if (spec.configMap) {
      const { name: cm = '', items, defaultMode, optional } = spec.configMap;
      return { name, alwaysReadOnly: true, files: keyedFiles(await this.keyed('configmaps', cm, optional), items, defaultMode, `configmap "${cm}"`, optional) };
    }
    if (spec.secret) {
      const { secretName = '', items, defaultMode, optional } = spec.secret;
      return { name, alwaysReadOnly: true, files: keyedFiles(await this.keyed('secrets', secretName, optional), items, defaultMode, `secret "${secretName}"`, optional) };
    }
    if (spec.projected) {
      const files: PodFile[] = [];
      for (const source of spec.projected.sources ?? []) files.push(...(await this.projection(source, spec.projected.defaultMode)));
      return { name, alwaysReadOnly: true, files };
    }
    if (spec.downwardAPI) {
      return { name, alwaysReadOnly: true, files: this.downward(spec.downwardAPI.items ?? [], spec.downwardAPI.defaultMode) };
    }
    if (spec.emptyDir) return { name, alwaysReadOnly: false, files: [] };
    throw new Error(`Volume ${name}: only configMap, secret, projected, downwardAPI and emptyDir volumes are supported by the sandbox`);
  }

  async env(container: V1Container, service: ServiceEndpoint): Promise<Record<string, string>> {
    const env: Record<string, string> = {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOSTNAME: this.pod.metadata?.name ?? '',
      // What the kubelet derives from the `kubernetes` Service of the default namespace.
      KUBERNETES_SERVICE_HOST: service.host,
      KUBERNETES_SERVICE_PORT: String(service.port),
      KUBERNETES_SERVICE_PORT_HTTPS: String(service.port),
      KUBERNETES_PORT: `tcp://${service.host}:${service.port}`,
      [`KUBERNETES_PORT_${service.port}_TCP`]: `tcp://${service.host}:${service.port}`,
      [`KUBERNETES_PORT_${service.port}_TCP_PROTO`]: 'tcp',
      [`KUBERNETES_PORT_${service.port}_TCP_PORT`]: String(service.port),
      [`KUBERNETES_PORT_${service.port}_TCP_ADDR`]: service.host,
    };
    for (const from of container.envFrom ?? []) {
      const ref = from.configMapRef ?? from.secretRef;
      const kind = from.configMapRef ? 'configmaps' : 'secrets';
      const source = await this.keyed(kind, ref?.name ?? '', ref?.optional);
      for (const [key, value] of Object.entries(source.data)) env[`${from.prefix ?? ''}${key}`] = value.toString('utf8');
    }
    for (const item of container.env ?? []) {
      const value = item.valueFrom ? await this.envValueFrom(item.name, item.valueFrom) : expand(item.value ?? '', env);
      if (value !== undefined) env[item.name] = value;
    }
    return env;
  }

  private async envValueFrom(name: string, from: NonNullable<V1Container['env']>[number]['valueFrom']): Promise<string | undefined> {
    const keyRef = from?.configMapKeyRef ?? from?.secretKeyRef;
    if (keyRef) {
      const kind = from?.configMapKeyRef ? 'configmaps' : 'secrets';
      const value = (await this.keyed(kind, keyRef.name ?? '', keyRef.optional)).data[keyRef.key];
      if (value === undefined && !keyRef.optional) throw new Error(`Env ${name}: key "${keyRef.key}" not found in ${kind} "${keyRef.name}"`);
      return value?.toString('utf8');
    }
    if (from?.fieldRef) return this.field(from.fieldRef);
    throw new Error(`Env ${name}: only configMapKeyRef, secretKeyRef and fieldRef are supported by the sandbox`);
  }

  private async projection(source: V1VolumeProjection, defaultMode: number | undefined): Promise<PodFile[]> {
    if (source.serviceAccountToken) {
      const { audience, expirationSeconds, path } = source.serviceAccountToken;
      const token = await this.boundToken(audience, expirationSeconds ?? 3600);
      return [{ path, content: Buffer.from(token), mode: defaultMode ?? DEFAULT_FILE_MODE }];
    }
    if (source.configMap) {
      const { name = '', items, optional } = source.configMap;
      return keyedFiles(await this.keyed('configmaps', name, optional), items, defaultMode, `configmap "${name}"`, optional);
    }
    if (source.secret) {
      const { name = '', items, optional } = source.secret;
      return keyedFiles(await this.keyed('secrets', name, optional), items, defaultMode, `secret "${name}"`, optional);
    }
    if (source.downwardAPI) return this.downward(source.downwardAPI.items ?? [], defaultMode);
    throw new Error('Projected volume: only serviceAccountToken, configMap, secret and downwardAPI sources are supported by the sandbox');
  }

  /** A TokenRequest bound to this Pod, as the kubelet makes it: invalid once the Pod is deleted. */
  private async boundToken(audience: string | undefined, expirationSeconds: number): Promise<string> {
    const metadata = this.pod.metadata;
    if (!metadata?.name || !metadata.uid) throw new Error('The Pod must be read from the API (it needs a name and a uid)');
    const request = await apiJson<{ status: { token: string } }>(
      this.api,
      'POST',
      `/api/v1/namespaces/${this.namespace}/serviceaccounts/${this.serviceAccountName()}/token`,
      {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: {
          ...(audience ? { audiences: [audience] } : {}),
          expirationSeconds,
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: metadata.name, uid: metadata.uid },
        },
      },
    );
    return request.status.token;
  }

  private downward(items: readonly V1DownwardAPIVolumeFile[], defaultMode: number | undefined): PodFile[] {
    return items.map((item) => {
      if (!item.fieldRef) throw new Error(`downwardAPI ${item.path}: only fieldRef is supported by the sandbox`);
      return { path: item.path, content: Buffer.from(this.field(item.fieldRef)), mode: item.mode ?? defaultMode ?? DEFAULT_FILE_MODE };
    });
  }

  private field(ref: V1ObjectFieldSelector): string {
    const meta = this.pod.metadata ?? {};
    const subscript = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(ref.fieldPath);
    if (subscript) return (subscript[1] === 'labels' ? meta.labels : meta.annotations)?.[subscript[2]!] ?? '';
    switch (ref.fieldPath) {
      case 'metadata.name':
        return meta.name ?? '';
      case 'metadata.namespace':
        return this.namespace;
      case 'metadata.uid':
        return meta.uid ?? '';
      case 'metadata.labels':
        return formatMap(meta.labels);
      case 'metadata.annotations':
        return formatMap(meta.annotations);
      case 'spec.serviceAccountName':
        return this.serviceAccountName();
      case 'spec.nodeName':
        return this.pod.spec?.nodeName ?? '';
      case 'status.podIP':
        return this.pod.status?.podIP ?? '';
      case 'status.hostIP':
        return this.pod.status?.hostIP ?? '';
      default:
        throw new Error(`fieldRef ${ref.fieldPath} is not supported by the sandbox`);
    }
  }

  private serviceAccountName(): string {
    return this.pod.spec?.serviceAccountName ?? 'default';
  }

  /** ConfigMap or Secret data as bytes; a missing optional source reads as empty, as in the kubelet. */
  private async keyed(kind: 'configmaps' | 'secrets', name: string, optional: boolean | undefined): Promise<KeyedData> {
    const res = await apiRequest(this.api, 'GET', `/api/v1/namespaces/${this.namespace}/${kind}/${name}`);
    if (res.status === 404 && optional) return { data: {} };
    if (res.status !== 200) throw new Error(`${kind} "${name}" in ${this.namespace}: ${res.status} ${res.body.slice(0, 300)}`);
    const obj = JSON.parse(res.body) as { data?: Record<string, string>; binaryData?: Record<string, string> };
    const data: Record<string, Buffer> = {};
    // Secrets carry base64 in `data`; ConfigMaps carry text in `data` and base64 in `binaryData`.
    for (const [k, v] of Object.entries(obj.data ?? {})) data[k] = Buffer.from(v, kind === 'secrets' ? 'base64' : 'utf8');
    for (const [k, v] of Object.entries(obj.binaryData ?? {})) data[k] = Buffer.from(v, 'base64');
    return { data };
  }
}

function keyedFiles(
  source: KeyedData,
  items: readonly V1KeyToPath[] | undefined,
  defaultMode: number | undefined,
  what: string,
  optional: boolean | undefined,
): PodFile[] {
  const mode = defaultMode ?? DEFAULT_FILE_MODE;
  if (!items || items.length === 0) {
    return Object.entries(source.data).map(([key, content]) => ({ path: key, content, mode }));
  }
  return items.flatMap((item) => {
    const content = source.data[item.key];
    if (content) return [{ path: item.path, content, mode: item.mode ?? mode }];
    if (optional) return [];
    throw new Error(`${what} has no key "${item.key}" (the kubelet would not start the container)`);
  });
}

/** `$(VAR)` references to earlier variables, and `$$` for a literal `$`, as the kubelet expands them. */
function expand(value: string, env: Readonly<Record<string, string>>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) =>
    match === '$$' ? '$' : (env[name!] ?? match),
  );
}

function formatMap(map: Record<string, string> | undefined): string {
  return Object.keys(map ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(map![k])}`)
    .join('\n');
}
