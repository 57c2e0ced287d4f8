// Which headers cross the proxy. The application's own credentials and impersonation never reach
// the API server: the proxy's ServiceAccount token is the only identity, and Impersonate-* would
// let an application act as someone else if the ServiceAccount were ever granted `impersonate`.
// Hop-by-hop headers (RFC 9110 section 7.6.1) belong to one connection, not to the request.
import type { IncomingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
const CREDENTIALS = new Set(['authorization', 'proxy-authorization']);
/** Node answers `Expect: 100-continue` itself; the body is streamed on regardless. */
const CONNECTION_LOCAL = new Set(['host', 'expect']);

function connectionTokens(value: string | string[] | undefined): Set<string> {
  const joined = Array.isArray(value) ? value.join(',') : (value ?? '');
  return new Set(joined.split(',').map((t) => t.trim().toLowerCase()).filter((t) => t !== ''));
}

function dropped(name: string, named: Set<string>, keepUpgrade: boolean): boolean {
  if (keepUpgrade && (name === 'connection' || name === 'upgrade')) return false;
  return HOP_BY_HOP.has(name) || named.has(name);
}

/**
 * The application's request headers as sent upstream: without credentials, impersonation and
 * hop-by-hop headers; `Connection: Upgrade` and `Upgrade` are kept for an upgrade request.
 */
export function upstreamRequestHeaders(headers: IncomingHttpHeaders, options: { host: string; token: string; upgrade: boolean }): Record<string, string | string[]> {
  const named = connectionTokens(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (CREDENTIALS.has(name) || name.startsWith('impersonate-') || CONNECTION_LOCAL.has(name)) continue;
    if (dropped(name, named, options.upgrade)) continue;
    out[name] = value;
  }
  out.host = options.host;
  out.authorization = `Bearer ${options.token}`;
  if (options.upgrade) out.connection = 'Upgrade';
  return out;
}

/**
 * The API server's response headers as the application receives them, as [name, value] pairs so that
 * repeated headers such as Warning survive. Node frames the body again
 * (chunked or Content-Length), so only hop-by-hop headers go; after a 101 Upgrade they stay.
 */
export function downstreamResponseHeaders(rawHeaders: readonly string[], options: { upgraded: boolean }): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) pairs.push([rawHeaders[i]!, rawHeaders[i + 1]!]);
  const named = connectionTokens(pairs.filter(([n]) => n.toLowerCase() === 'connection').map(([, v]) => v));
  return pairs.filter(([name]) => !dropped(name.toLowerCase(), named, options.upgraded));
}
