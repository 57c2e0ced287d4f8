// Gathers, without any network I/O and without reading a credential's value into a message, how this
// process would reach the API server: the configuration source (the same precedence as
// `apiaccess run`, from client-config.ts), the server, the CA, the kind of credential, the namespace.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import {
  chooseSource,
  ClientConfigError,
  mergeKubeconfigFiles,
  type ClientConfigEnvironment,
  type ConfigSource,
  type RawKubeconfig,
} from '../config/client-config.ts';
import { walkKubeconfig, type KubeconfigEntry } from '../config/kubeconfig-walk.ts';

export type CaSource =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'data'; readonly pem: Buffer; readonly where: string }
  /** No CA configured: Node's built-in trust store decides. */
  | { readonly kind: 'system' };

export type Credential =
  | { readonly kind: 'token-file'; readonly path: string; readonly field: string }
  /** An inline token; `token` is for decoding claims and is never printed. */
  | { readonly kind: 'token'; readonly token: string; readonly field: string }
  | { readonly kind: 'client-certificate'; readonly field: string }
  | { readonly kind: 'exec'; readonly command: string }
  | { readonly kind: 'auth-provider'; readonly name: string }
  | { readonly kind: 'basic' }
  | { readonly kind: 'none' };

export interface Connection {
  readonly source: ConfigSource;
  /** Why this source was chosen; never a credential. */
  readonly reason: string;
  readonly files: readonly string[];
  /** In a pod that looks in-cluster but lacks the ServiceAccount token: why in-cluster config is not usable. */
  readonly inClusterProblem?: string;
  readonly context: string;
  readonly cluster: string;
  readonly user: string;
  readonly server: string;
  readonly host: string;
  readonly port: number;
  readonly https: boolean;
  /** The kubeconfig's tls-server-name, which replaces the host for SNI and certificate checks. */
  readonly tlsServerName?: string;
  readonly ca: CaSource;
  readonly insecureSkipTlsVerify: boolean;
  readonly credential: Credential;
  /** The context's namespace; in-cluster, the content of the namespace file. */
  readonly namespace?: string;
}

export type Gathered = { readonly ok: true; readonly connection: Connection } | { readonly ok: false; readonly problem: string; readonly files: readonly string[] };

export function gatherConnection(kubeconfig: string | undefined, environment: ClientConfigEnvironment): Gathered {
  let chosen: ReturnType<typeof chooseSource>;
  try {
    chosen = chooseSource(kubeconfig === undefined ? {} : { kubeconfig }, environment);
  } catch (error) {
    if (!(error instanceof ClientConfigError)) throw error;
    // A pod whose token is not mounted: in-cluster config is what it meant to use, so the missing
    // token is the finding (check token-file), not the absence of any configuration.
    const { env } = environment;
    const meantInCluster = kubeconfig === undefined && (env.KUBECONFIG ?? '') === '' && Boolean(env.KUBERNETES_SERVICE_HOST) && Boolean(env.KUBERNETES_SERVICE_PORT);
    if (!meantInCluster) return { ok: false, problem: error.message, files: [] };
    return { ok: true, connection: inCluster(environment, error.message) };
  }
  if (chosen.source === 'in-cluster') return { ok: true, connection: inCluster(environment) };
  let merged: RawKubeconfig;
  try {
    merged = mergeKubeconfigFiles(chosen.files);
  } catch (error) {
    if (error instanceof ClientConfigError) return { ok: false, problem: error.message, files: chosen.files };
    throw error;
  }
  const connection = fromKubeconfig(merged, chosen.source, chosen.reason, chosen.files);
  return typeof connection === 'string' ? { ok: false, problem: connection, files: chosen.files } : { ok: true, connection };
}

function inCluster({ env, inClusterRoot }: ClientConfigEnvironment, problem?: string): Connection {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const port = Number(env.KUBERNETES_SERVICE_PORT);
  const token = join(inClusterRoot, 'token');
  const namespaceFile = join(inClusterRoot, 'namespace');
  const namespace = existsSync(namespaceFile) ? readFileSync(namespaceFile, 'utf8').trim() : undefined;
  return {
    source: 'in-cluster',
    reason: `in-cluster: KUBERNETES_SERVICE_HOST=${host}, KUBERNETES_SERVICE_PORT=${env.KUBERNETES_SERVICE_PORT ?? ''} and ${token}`,
    files: [token],
    ...(problem !== undefined ? { inClusterProblem: problem } : {}),
    context: 'in-cluster',
    cluster: 'in-cluster',
    user: 'in-cluster',
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    host,
    port,
    https: true,
    ca: { kind: 'file', path: join(inClusterRoot, 'ca.crt') },
    insecureSkipTlsVerify: false,
    credential: { kind: 'token-file', path: token, field: 'the in-cluster ServiceAccount token' },
    ...(namespace ? { namespace } : {}),
  };
}

function fromKubeconfig(config: RawKubeconfig, source: ConfigSource, reason: string, files: readonly string[]): Connection | string {
  const where = files.join(', ');
  const walked = walkKubeconfig(config);
  if (!walked.ok) return `${where}: ${walked.problem}`;
  const { contextName: current, context, clusterName, cluster, server, url, userName, user } = walked.walk;
  const clientNodeProblem = clientNodeRejects(config);
  if (clientNodeProblem !== undefined) return `${where}: ${clientNodeProblem}`;
  const https = url.protocol === 'https:';
  const namespace = typeof context.namespace === 'string' && context.namespace !== '' ? context.namespace : undefined;
  const tlsServerName = typeof cluster['tls-server-name'] === 'string' && cluster['tls-server-name'] !== '' ? cluster['tls-server-name'] : undefined;
  return {
    source,
    reason,
    files,
    context: current,
    cluster: clusterName,
    user: userName,
    server,
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? (https ? 443 : 80) : Number(url.port),
    https,
    ...(tlsServerName ? { tlsServerName } : {}),
    ca: caSource(cluster, clusterName),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    credential: credentialOf(user, userName),
    ...(namespace ? { namespace } : {}),
  };
}

function caSource(cluster: KubeconfigEntry, name: string): CaSource {
  const data = cluster['certificate-authority-data'];
  if (typeof data === 'string' && data !== '') return { kind: 'data', pem: Buffer.from(data, 'base64'), where: `certificate-authority-data of cluster "${name}"` };
  const file = cluster['certificate-authority'];
  if (typeof file === 'string' && file !== '') return { kind: 'file', path: file };
  return { kind: 'system' };
}

function credentialOf(user: KubeconfigEntry, name: string): Credential {
  // Paths are absolute here: mergeKubeconfigFiles resolved them against the kubeconfig's folder.
  if (typeof user.token === 'string' && user.token !== '') return { kind: 'token', token: user.token, field: `user "${name}" token` };
  if (typeof user.tokenFile === 'string' && user.tokenFile !== '') return { kind: 'token-file', path: user.tokenFile, field: `user "${name}" tokenFile` };
  if (typeof user['token-file'] === 'string' && user['token-file'] !== '') return { kind: 'token-file', path: user['token-file'], field: `user "${name}" token-file` };
  if (user['client-certificate-data'] !== undefined || user['client-certificate'] !== undefined) {
    return { kind: 'client-certificate', field: `user "${name}" ${user['client-certificate-data'] !== undefined ? 'client-certificate-data' : 'client-certificate'}` };
  }
  const exec = user.exec as { command?: unknown } | undefined;
  if (exec !== undefined) return { kind: 'exec', command: String(exec.command ?? '') };
  const provider = user['auth-provider'] as { name?: unknown } | undefined;
  if (provider !== undefined) return { kind: 'auth-provider', name: String(provider.name ?? '') };
  if (user.username !== undefined) return { kind: 'basic' };
  return { kind: 'none' };
}

/**
 * Loads the merged kubeconfig with client-node (what `apiaccess run` and the doctor's API checks
 * use), so that a document it refuses fails here. `token-file` is left out: client-node reads it
 * while loading, and a missing token file is the finding of check token-file, not of this one.
 */
function clientNodeRejects(config: RawKubeconfig): string | undefined {
  const users = (config.users ?? []).map((u) => {
    const user = { ...((u.user as KubeconfigEntry | undefined) ?? {}) };
    delete user['token-file'];
    return { ...u, user };
  });
  try {
    new KubeConfig().loadFromString(stringify({ ...config, users }));
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
