// The RBAC attributes of an HTTP request, derived the way the API server's RequestInfoFactory does
// (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go), so that the proxy authorizes exactly what
// the API server would then serve. Pure: no I/O.

/** A request for an API resource: what a PolicyRule's apiGroups/resources/resourceNames match. */
export interface ResourceAttributes {
  readonly kind: 'resource';
  readonly verb: string;
  readonly apiGroup: string;
  readonly apiVersion: string;
  /** '' for cluster-scoped resources and for requests across all namespaces. */
  readonly namespace: string;
  readonly resource: string;
  readonly subresource: string;
  readonly name: string;
  /** The decoded path, for messages. */
  readonly path: string;
}

/** Any other path (discovery, /healthz, /version, /metrics): what a PolicyRule's nonResourceURLs match. */
export interface NonResourceAttributes {
  readonly kind: 'nonResource';
  /** The lower-cased HTTP method, as the API server uses it for non-resource requests. */
  readonly verb: string;
  readonly path: string;
}

/** A URL the proxy refuses to interpret; forwarding it could let the proxy and the API server disagree. */
export interface InvalidRequest {
  readonly kind: 'invalid';
  readonly message: string;
}

export type RequestAttributes = ResourceAttributes | NonResourceAttributes;

const API_PREFIXES = new Set(['api', 'apis']);
const GROUPLESS_PREFIX = 'api';
/** `/api/v1/watch/...` and `/api/v1/proxy/...` carry their verb in the path. */
const SPECIAL_VERBS = new Set(['proxy', 'watch']);
/** `/api/v1/namespaces/<ns>/status` and `.../finalize` are subresources of the Namespace itself. */
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);
/** Subresources whose upgrade (WebSocket) GET the API server authorizes as create, like their SPDY POST. */
const UPGRADE_AS_CREATE = new Set(['exec', 'attach', 'portforward']);

const METHOD_VERBS: Readonly<Record<string, string>> = {
  POST: 'create',
  GET: 'get',
  HEAD: 'get',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

export interface RequestLine {
  readonly method: string;
  /** The request target as received (path and query, percent-encoded). */
  readonly url: string;
  /** Whether the request asks for an HTTP Upgrade (SPDY or WebSocket). */
  readonly upgrade?: boolean;
}

export function requestAttributes(request: RequestLine): RequestAttributes | InvalidRequest {
  const target = parseTarget(request.url);
  if (target.kind === 'invalid') return target;
  const { path, query } = target;
  const nonResource: NonResourceAttributes = { kind: 'nonResource', verb: request.method.toLowerCase(), path };

  let parts = path.replace(/^\/+|\/+$/g, '').split('/');
  if (parts.length < 3 || !API_PREFIXES.has(parts[0]!)) return nonResource;
  const prefix = parts[0]!;
  parts = parts.slice(1);
  let apiGroup = '';
  if (prefix !== GROUPLESS_PREFIX) {
    if (parts.length < 3) return nonResource;
    apiGroup = parts[0]!;
    parts = parts.slice(1);
  }
  const apiVersion = parts[0]!;
  parts = parts.slice(1);

  let verb: string;
  if (SPECIAL_VERBS.has(parts[0]!)) {
    if (parts.length < 2) return { kind: 'invalid', message: `unable to determine kind and namespace from url ${path}` };
    verb = parts[0]!;
    parts = parts.slice(1);
  } else {
    verb = METHOD_VERBS[request.method.toUpperCase()] ?? '';
  }

  let namespace = '';
  if (parts[0] === 'namespaces' && parts.length > 1) {
    namespace = parts[1]!;
    if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2]!)) parts = parts.slice(2);
  }

  const resource = parts[0] ?? '';
  let name = parts[1] ?? '';
  const subresource = parts.length >= 3 && verb !== 'proxy' ? parts[2]! : '';

  if (name === '' && verb === 'get') {
    verb = watchRequested(query) ? 'watch' : 'list';
    name = nameFromFieldSelector(query.get('fieldSelector')) ?? '';
  }
  if (name === '' && verb === 'delete') verb = 'deletecollection';
  if (request.upgrade === true && verb === 'get' && resource === 'pods' && UPGRADE_AS_CREATE.has(subresource)) verb = 'create';

  return { kind: 'resource', verb, apiGroup, apiVersion, namespace, resource, subresource, name, path };
}

/**
 * The decoded path and the query. Dot segments, empty segments and encoded slashes are refused: the
 * API server's router would read them differently from the segments authorized here.
 */
function parseTarget(url: string): { kind: 'target'; path: string; query: URLSearchParams } | InvalidRequest {
  if (!url.startsWith('/')) return { kind: 'invalid', message: `the request target ${JSON.stringify(url)} is not a path` };
  const queryAt = url.indexOf('?');
  const rawPath = queryAt === -1 ? url : url.slice(0, queryAt);
  const query = new URLSearchParams(queryAt === -1 ? '' : url.slice(queryAt + 1));
  if (/%2f/i.test(rawPath)) return { kind: 'invalid', message: `the path ${rawPath} contains an encoded "/"` };
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return { kind: 'invalid', message: `the path ${rawPath} is not valid percent-encoding` };
  }
  const segments = path.slice(1).split('/');
  const inner = segments.slice(0, -1);
  if (segments.some((s) => s === '.' || s === '..') || inner.some((s) => s === '')) {
    return { kind: 'invalid', message: `the path ${rawPath} has empty or dot segments` };
  }
  return { kind: 'target', path, query };
}

/** `watch` as the API server's parameter codec reads a bool: present and neither "0" nor "false". */
function watchRequested(query: URLSearchParams): boolean {
  const value = query.get('watch');
  return value !== null && value !== '0' && value.toLowerCase() !== 'false';
}

/** A list or watch narrowed by `fieldSelector=metadata.name=<x>` is for the object `<x>` (resourceNames match it). */
function nameFromFieldSelector(selector: string | null): string | undefined {
  if (selector === null || selector.includes('\\')) return undefined;
  for (const term of selector.split(',')) {
    const match = /^\s*metadata\.name\s*==?\s*(.*?)\s*$/.exec(term);
    if (match === null || term.includes('!=')) continue;
    const name = match[1]!;
    const validSegment = name !== '' && name !== '.' && name !== '..' && !/[/%]/.test(name);
    return validSegment ? name : undefined;
  }
  return undefined;
}
