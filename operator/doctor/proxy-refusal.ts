// Reading the proxy sidecar's answers (/work/proxy-contract.md): a refusal is HTTP 403 with a
// Kubernetes Status body whose message ends ": not allowed by ApiAccessProfile <ns>/<name> (apiaccess
// proxy)" and the header X-Apiaccess-Proxy-Denied naming the request's attributes; an unreachable API
// server is 503 with a Status body naming it. Pure: the checks hand in what they received.

export const DENIED_HEADER = 'x-apiaccess-proxy-denied';
const PROXY_SUFFIX = /: not allowed by ApiAccessProfile ([^\s/]+)\/([^\s]+) \(apiaccess proxy\)\s*$/;

/** The request as the proxy saw it (RequestInfo attributes); '' where it has none. */
export interface DeniedAttributes {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly subresource: string;
  readonly namespace: string;
  readonly name: string;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

export type Refusal =
  | { readonly by: 'proxy'; readonly message: string; readonly profile?: string; readonly attributes?: DeniedAttributes }
  | { readonly by: 'server'; readonly status: number; readonly reason: string; readonly message: string };

/** `verb=list; group=; resource=pods; subresource=; namespace=x; name=` as attributes; undefined when absent or malformed. */
export function parseDeniedHeader(value: string | readonly string[] | undefined): DeniedAttributes | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (typeof text !== 'string' || text.trim() === '') return undefined;
  const fields = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    // The proxy percent-encodes values that would break the header (operator/proxy/authorize.ts).
    const raw = part.slice(eq + 1).trim();
    let value = raw;
    try {
      value = decodeURIComponent(raw);
    } catch {
      // not encoded: keep as sent
    }
    fields.set(part.slice(0, eq).trim(), value);
  }
  const verb = fields.get('verb');
  if (verb === undefined || verb === '') return undefined;
  const get = (key: string): string => fields.get(key) ?? '';
  return { verb, group: get('group'), resource: get('resource'), subresource: get('subresource'), namespace: get('namespace'), name: get('name') };
}

/** `ns/name` of the profile a proxy refusal names, from the Status message. */
export function refusingProfile(message: string): string | undefined {
  const match = PROXY_SUFFIX.exec(message);
  return match ? `${match[1]}/${match[2]}` : undefined;
}

/** Whether a Status message is the proxy's own refusal (for answers whose headers the caller cannot see). */
export function isProxyRefusalMessage(message: string): boolean {
  return PROXY_SUFFIX.test(message);
}

/**
 * Who refused a 401/403: the proxy (its header, or its message for a client that drops headers) or
 * the API server behind it. Undefined for any other status.
 */
export function classifyRefusal(answer: HttpAnswer): Refusal | undefined {
  if (answer.status !== 401 && answer.status !== 403) return undefined;
  const status = parseStatus(answer.body);
  const message = status?.message ?? (answer.body.trim().slice(0, 200) || `HTTP ${answer.status}`);
  const attributes = parseDeniedHeader(answer.headers[DENIED_HEADER]);
  if (attributes !== undefined || isProxyRefusalMessage(message)) {
    const profile = refusingProfile(message);
    return { by: 'proxy', message, ...(profile ? { profile } : {}), ...(attributes ? { attributes } : {}) };
  }
  return { by: 'server', status: answer.status, reason: status?.reason ?? (answer.status === 401 ? 'Unauthorized' : 'Forbidden'), message };
}

/** The proxy's 503 "cannot reach the API server": its message (naming the server), else undefined. */
export function upstreamUnreachable(answer: HttpAnswer): string | undefined {
  if (answer.status !== 503) return undefined;
  return parseStatus(answer.body)?.message ?? (answer.body.trim().slice(0, 200) || 'HTTP 503 Service Unavailable');
}

/** The rule for spec.permissions.rules, in the flow style the profile's YAML takes. */
export function ruleFor(attributes: Pick<DeniedAttributes, 'verb' | 'group' | 'resource' | 'subresource'>): string {
  const resource = `${attributes.resource}${attributes.subresource ? `/${attributes.subresource}` : ''}`;
  return `{apiGroups: ["${attributes.group}"], resources: ["${resource}"], verbs: ["${attributes.verb}"]}`;
}

/**
 * What else the rule needs: the proxy allows a Namespace-scoped profile only namespaced requests in
 * its own namespace, so a rule alone cannot fix a cluster-scoped or other-namespace request.
 */
export function scopeNote(attributes: Pick<DeniedAttributes, 'namespace'>, profile: string | undefined): string {
  const profileNamespace = profile?.split('/')[0];
  if (attributes.namespace === '') return '; the request is cluster-scoped (or across namespaces), so the profile also needs spec.permissions.scope: Cluster';
  if (profileNamespace !== undefined && attributes.namespace !== profileNamespace) {
    return `; the request is in namespace ${attributes.namespace}, not the profile's ${profileNamespace}, so the profile also needs spec.permissions.scope: Cluster`;
  }
  return '';
}

function parseStatus(body: string): { message?: string; reason?: string } | undefined {
  try {
    const value = JSON.parse(body) as unknown;
    if (typeof value !== 'object' || value === null || (value as { kind?: unknown }).kind !== 'Status') return undefined;
    const { message, reason } = value as { message?: unknown; reason?: unknown };
    return { ...(typeof message === 'string' ? { message } : {}), ...(typeof reason === 'string' ? { reason } : {}) };
  } catch {
    return undefined;
  }
}
