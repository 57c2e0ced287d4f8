// How the operator (and `apiaccess doctor`) find the API server and their credentials:
// --kubeconfig flag > KUBECONFIG (a path list, merged, first wins like kubectl) > in-cluster
// ServiceAccount > ~/.kube/config. No localhost:8080 fallback: a missing config is an error.
// client-node's loadFromDefault differs (merging throws on duplicate names; in-cluster after
// ~/.kube/config; it ignores client-go's `tokenFile`), hence this module.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { credentialsFor, CredentialsError, type CredentialSource } from './credentials.ts';

export const IN_CLUSTER_ROOT = '/var/run/secrets/kubernetes.io/serviceaccount';

export type ConfigSource = 'flag' | 'KUBECONFIG' | 'in-cluster' | 'home';

export interface ClientConfigInput {
  kubeconfig?: string;
  apiserverHost?: string;
  insecureSkipTlsVerify?: boolean;
}

export interface ClientConfigEnvironment {
  env: NodeJS.ProcessEnv;
  home: string;
  inClusterRoot: string;
}

export interface ResolvedClientConfig {
  source: ConfigSource;
  /** Why this source was chosen, for logs and `doctor`. Never contains a credential. */
  reason: string;
  files: string[];
  /** The merged kubeconfig (or the in-cluster one), with the overrides applied and file paths absolute. */
  raw: RawKubeconfig;
  /** TLS material and credentials for each request (see credentials.ts). */
  credentials: CredentialSource;
  /** The CA bundle of the current cluster, PEM, when the kubeconfig names one. */
  caPem?: string;
  server: string;
  context: string;
  namespace: string;
  warnings: string[];
}

export class ClientConfigError extends Error {
  readonly code = 'ClientConfigInvalid';
  constructor(message: string) {
    super(message);
    this.name = 'ClientConfigError';
  }
}

export function defaultEnvironment(): ClientConfigEnvironment {
  return { env: process.env, home: homedir(), inClusterRoot: IN_CLUSTER_ROOT };
}

export function resolveClientConfig(input: ClientConfigInput, environment: ClientConfigEnvironment = defaultEnvironment()): ResolvedClientConfig {
  const { env } = environment;
  const chosen = chooseSource(input, environment);
  const warnings: string[] = [];
  const raw = chosen.source === 'in-cluster' ? inClusterConfig(environment) : mergeKubeconfigFiles(chosen.files);
  const context = raw['current-context'];
  const contextEntry = entry(raw.contexts, context, 'context');
  const clusterName = typeof contextEntry?.cluster === 'string' ? contextEntry.cluster : undefined;
  const clusterNamed = raw.clusters?.find((c) => c.name === clusterName);
  const cluster = clusterNamed?.cluster as Record<string, unknown> | undefined;
  if (!context || contextEntry === undefined || cluster === undefined) throw new ClientConfigError(`${chosen.reason}: no current-context with a cluster is set`);
  if (input.apiserverHost !== undefined) {
    if (!/^https?:\/\//.test(input.apiserverHost)) throw new ClientConfigError(`--apiserver-host must be a URL, got "${input.apiserverHost}"`);
    cluster.server = input.apiserverHost;
  }
  const server = typeof cluster.server === 'string' ? cluster.server : '';
  if (server === '') throw new ClientConfigError(`${chosen.reason}: cluster ${clusterName} has no server`);
  // Silently bypassing a configured proxy would be worse than refusing.
  if (cluster['proxy-url'] !== undefined) throw new ClientConfigError(`${chosen.reason}: cluster ${clusterName} uses proxy-url, which this client does not support`);
  if (input.insecureSkipTlsVerify === true) {
    cluster['insecure-skip-tls-verify'] = true;
    warnings.push(`TLS verification of ${server} is OFF (--insecure-skip-tls-verify): anyone on the network path can impersonate the API server`);
  } else if (cluster['insecure-skip-tls-verify'] === true) {
    warnings.push(`TLS verification of ${server} is OFF: the kubeconfig sets insecure-skip-tls-verify`);
  }
  if (server.startsWith('http://')) warnings.push(`${server} is plain HTTP: requests and credentials are not encrypted`);
  const userName = typeof contextEntry.user === 'string' ? contextEntry.user : undefined;
  const user = (raw.users?.find((u) => u.name === userName)?.user as Record<string, unknown> | undefined) ?? {};
  let credentials: CredentialSource;
  try {
    credentials = credentialsFor(raw, cluster, user);
  } catch (error) {
    if (error instanceof CredentialsError) throw new ClientConfigError(`${chosen.reason}: ${error.message}`);
    throw error;
  }
  const caPem = caPemOf(cluster);
  const namespace = (typeof contextEntry.namespace === 'string' && contextEntry.namespace !== '' ? contextEntry.namespace : undefined) ?? env.POD_NAMESPACE ?? 'default';
  return { source: chosen.source, reason: chosen.reason, files: chosen.files, raw, credentials, ...(caPem ? { caPem } : {}), server, context, namespace, warnings };
}

function entry(list: Named[] | undefined, name: string | undefined, field: string): Record<string, unknown> | undefined {
  return name === undefined ? undefined : (list?.find((e) => e.name === name)?.[field] as Record<string, unknown> | undefined);
}

function caPemOf(cluster: Record<string, unknown>): string | undefined {
  const data = cluster['certificate-authority-data'];
  if (typeof data === 'string' && data !== '') return Buffer.from(data, 'base64').toString('utf8');
  const file = cluster['certificate-authority'];
  if (typeof file !== 'string' || file === '') return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

interface ChosenSource {
  source: ConfigSource;
  reason: string;
  files: string[];
}

/** Which source applies and why (exported for doctor, which explains the choice). */
export function chooseSource(input: ClientConfigInput, { env, home, inClusterRoot }: ClientConfigEnvironment): ChosenSource {
  if (input.kubeconfig !== undefined) {
    const file = resolve(input.kubeconfig);
    if (!existsSync(file)) throw new ClientConfigError(`--kubeconfig ${input.kubeconfig}: file not found`);
    return { source: 'flag', reason: `--kubeconfig ${file}`, files: [file] };
  }
  const list = (env.KUBECONFIG ?? '').split(delimiter).filter((p) => p !== '');
  if (list.length > 0) {
    const files = list.map((p) => resolve(p)).filter((p) => existsSync(p));
    if (files.length === 0) throw new ClientConfigError(`KUBECONFIG=${env.KUBECONFIG}: none of its files exists`);
    return { source: 'KUBECONFIG', reason: `KUBECONFIG=${env.KUBECONFIG} (${files.length} file${files.length > 1 ? 's' : ''} merged, first wins)`, files };
  }
  const token = join(inClusterRoot, 'token');
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT && existsSync(token)) {
    return {
      source: 'in-cluster',
      reason: `in-cluster: KUBERNETES_SERVICE_HOST=${env.KUBERNETES_SERVICE_HOST}, KUBERNETES_SERVICE_PORT=${env.KUBERNETES_SERVICE_PORT} and ${token}`,
      files: [token],
    };
  }
  const homeConfig = join(home, '.kube', 'config');
  if (existsSync(homeConfig)) return { source: 'home', reason: homeConfig, files: [homeConfig] };
  const why = env.KUBERNETES_SERVICE_HOST ? `KUBERNETES_SERVICE_HOST is set but ${token} does not exist` : 'not in a pod (KUBERNETES_SERVICE_HOST is not set)';
  throw new ClientConfigError(`No Kubernetes client configuration: no --kubeconfig, KUBECONFIG is empty, ${why}, and ${homeConfig} does not exist`);
}

function inClusterConfig({ env, inClusterRoot }: ClientConfigEnvironment): RawKubeconfig {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT}`;
  const nsFile = join(inClusterRoot, 'namespace');
  const namespace = existsSync(nsFile) ? readFileSync(nsFile, 'utf8').trim() : undefined;
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'in-cluster', cluster: { server, 'certificate-authority': join(inClusterRoot, 'ca.crt') } }],
    users: [{ name: 'in-cluster', user: { 'auth-provider': { name: 'tokenFile', config: { tokenFile: join(inClusterRoot, 'token') } } } }],
    contexts: [{ name: 'in-cluster', context: { cluster: 'in-cluster', user: 'in-cluster', ...(namespace ? { namespace } : {}) } }],
    'current-context': 'in-cluster',
  };
}

type Named = { name: string; [k: string]: unknown };
export interface RawKubeconfig {
  apiVersion?: string;
  kind?: string;
  clusters?: Named[];
  users?: Named[];
  contexts?: Named[];
  'current-context'?: string;
  [k: string]: unknown;
}

const FILE_FIELDS: Record<'cluster' | 'user', string[]> = {
  cluster: ['certificate-authority'],
  user: ['client-certificate', 'client-key', 'tokenFile'],
};

/** Merges kubeconfig files as kubectl does: the first file that sets a name or current-context wins. */
export function mergeKubeconfigFiles(files: string[]): RawKubeconfig {
  const merged: Required<Pick<RawKubeconfig, 'clusters' | 'users' | 'contexts'>> & RawKubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [],
    users: [],
    contexts: [],
  };
  for (const file of files) {
    const config = parseKubeconfig(readFileSync(file, 'utf8'), file);
    for (const key of ['clusters', 'users', 'contexts'] as const) {
      for (const entry of config[key] ?? []) {
        if (merged[key].some((e) => e.name === entry.name)) continue;
        merged[key].push(key === 'contexts' ? entry : withAbsolutePaths(entry, key === 'clusters' ? 'cluster' : 'user', dirname(file)));
      }
    }
    if (merged['current-context'] === undefined && config['current-context']) merged['current-context'] = config['current-context'];
  }
  return merged;
}

/** Parses a kubeconfig document; throws ClientConfigError naming the file and the problem. */
export function parseKubeconfig(text: string, where: string): RawKubeconfig {
  let config: unknown;
  try {
    config = parse(text);
  } catch (e) {
    throw new ClientConfigError(`${where}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (config === null || config === undefined) return {};
  if (typeof config !== 'object' || Array.isArray(config)) throw new ClientConfigError(`${where}: a kubeconfig must be a YAML mapping`);
  const raw = config as RawKubeconfig;
  for (const key of ['clusters', 'users', 'contexts'] as const) {
    const list = raw[key];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) throw new ClientConfigError(`${where}: ${key} must be a list`);
    list.forEach((entry, i) => {
      if (typeof entry?.name !== 'string') throw new ClientConfigError(`${where}: ${key}[${i}].name is missing`);
    });
  }
  return raw;
}

// Relative file references are relative to the kubeconfig's own directory (kubectl semantics), and
// client-go's `tokenFile` becomes client-node's tokenFile auth provider, which re-reads the file.
function withAbsolutePaths(entry: Named, field: 'cluster' | 'user', dir: string): Named {
  const body = { ...((entry[field] as Record<string, unknown> | undefined) ?? {}) };
  for (const key of FILE_FIELDS[field]) {
    const value = body[key];
    if (typeof value === 'string' && value !== '' && !isAbsolute(value)) body[key] = join(dir, value);
  }
  if (field === 'user' && typeof body.tokenFile === 'string' && body.token === undefined && body['auth-provider'] === undefined) {
    body['auth-provider'] = { name: 'tokenFile', config: { tokenFile: body.tokenFile } };
  }
  return { ...entry, [field]: body };
}
