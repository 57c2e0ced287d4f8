// Follows a parsed kubeconfig from current-context to its context, cluster and user, as kubectl
// does, and says in words where the chain breaks. Shared by `apiaccess doctor` (the process' own
// kubeconfig) and the operator's inspection of kubeconfigs users put in ConfigMaps.

export type KubeconfigEntry = Readonly<Record<string, unknown>>;

export interface KubeconfigWalk {
  readonly contextName: string;
  readonly context: KubeconfigEntry;
  readonly clusterName: string;
  readonly cluster: KubeconfigEntry;
  /** An http(s):// URL that parses. */
  readonly server: string;
  readonly url: URL;
  /** '' when the context names no user: requests are anonymous. */
  readonly userName: string;
  /** `{}` when the context names no user. */
  readonly user: KubeconfigEntry;
}

export type WalkResult = { readonly ok: true; readonly walk: KubeconfigWalk } | { readonly ok: false; readonly problem: string };

/** `config` is the parsed document; problems name the entries, never a credential. */
export function walkKubeconfig(config: KubeconfigEntry): WalkResult {
  const contextName = config['current-context'];
  if (typeof contextName !== 'string' || contextName === '') return broken('current-context is not set');
  const context = entryBody(config.contexts, contextName, 'context');
  if (context === undefined) return broken(`current-context "${contextName}" names no entry in contexts`);
  const clusterName = String(context.cluster ?? '');
  const cluster = entryBody(config.clusters, clusterName, 'cluster');
  if (cluster === undefined) return broken(`context "${contextName}" names cluster "${clusterName}", which is not in clusters`);
  const server = cluster.server;
  if (typeof server !== 'string' || !/^https?:\/\//.test(server)) {
    return broken(`cluster "${clusterName}" has no server URL: expected http(s)://, got ${JSON.stringify(server ?? null)}`);
  }
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return broken(`cluster "${clusterName}" has an invalid server URL ${server}`);
  }
  const userName = typeof context.user === 'string' ? context.user : '';
  const user = userName === '' ? {} : entryBody(config.users, userName, 'user');
  if (user === undefined) return broken(`context "${contextName}" names user "${userName}", which is not in users`);
  return { ok: true, walk: { contextName, context, clusterName, cluster, server, url, userName, user } };
}

function broken(problem: string): WalkResult {
  return { ok: false, problem };
}

/** The `field` mapping of the list entry called `name` ({} when the entry has none), or undefined when no entry has that name. */
function entryBody(list: unknown, name: string, field: string): KubeconfigEntry | undefined {
  if (!Array.isArray(list)) return undefined;
  const entry = list.find((e) => (e as { name?: unknown } | null)?.name === name) as KubeconfigEntry | undefined;
  if (entry === undefined) return undefined;
  const value = entry[field];
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as KubeconfigEntry) : {};
}
