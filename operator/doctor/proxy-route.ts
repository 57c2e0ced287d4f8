// Whether this configuration talks to the API server through the Proxy-mode sidecar (api.md "Proxy
// mode"): the app container's kubeconfig names http://127.0.0.1:<port> with no credential, and
// KUBERNETES_API_PROXY holds the same URL. The checks that follow explain themselves differently
// then: the token and the CA live in the sidecar, not here.
import { isIP } from 'node:net';
import { PROXY_CONTAINER } from '../../crds/apiaccessprofile.ts';
import { PROXY_ENV } from '../desired/proxy.ts';
import type { Connection } from './connection.ts';

export { PROXY_ENV };

export interface ProxyRoute {
  /** The proxy's origin, e.g. http://127.0.0.1:8001. */
  readonly url: string;
  /** KUBERNETES_API_PROXY names the same origin: the operator injected this container. */
  readonly envMatches: boolean;
  /** The proxy listens on this machine (inside the Pod: the Pod's own loopback), so the plain-HTTP hop never leaves it. */
  readonly loopback: boolean;
}

/**
 * A plain-HTTP server on a loopback address, or the origin KUBERNETES_API_PROXY names. An https://
 * server never is: the sidecar only speaks plain HTTP on 127.0.0.1.
 */
export function detectProxyRoute(connection: Pick<Connection, 'server' | 'host' | 'https'>, env: NodeJS.ProcessEnv): ProxyRoute | undefined {
  if (connection.https) return undefined;
  const origin = originOf(connection.server);
  if (origin === undefined) return undefined;
  const envMatches = originOf(env[PROXY_ENV] ?? '') === origin;
  const loopback = isLoopback(connection.host);
  if (!loopback && !envMatches) return undefined;
  return { url: origin, envMatches, loopback };
}

/** KUBERNETES_API_PROXY is set but this configuration goes elsewhere: the app would bypass the proxy. */
export function bypassedProxy(connection: Pick<Connection, 'server'>, env: NodeJS.ProcessEnv): string | undefined {
  const proxy = env[PROXY_ENV];
  if (proxy === undefined || proxy === '') return undefined;
  return originOf(proxy) === originOf(connection.server) ? undefined : proxy;
}

export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1' || bare === '0:0:0:0:0:0:0:1';
}

/** "the apiaccess proxy sidecar at http://127.0.0.1:8001 (KUBERNETES_API_PROXY matches)"; without the URL where the sentence already has it. */
export function describeProxy(route: ProxyRoute, withUrl = true): string {
  const at = withUrl ? ` at ${route.url}` : '';
  if (route.envMatches) return `the apiaccess proxy sidecar${at} (${PROXY_ENV} matches)`;
  return `the apiaccess proxy sidecar${at} (a plain-HTTP loopback server, so presumably the sidecar; ${PROXY_ENV} does not name it)`;
}

/**
 * Where to look when the sidecar does not answer, with the Pod's name when the environment tells it
 * (HOSTNAME is the Pod's name unless spec.hostname overrides it).
 */
export function sidecarLogsHint(env: NodeJS.ProcessEnv, namespace: string): string {
  const pod = env.POD_NAME || env.HOSTNAME || '<pod>';
  return `kubectl logs ${pod} -n ${namespace} -c ${PROXY_CONTAINER}`;
}

export const PROXY_HOLDS_CREDENTIALS = 'the proxy sidecar holds the token and the CA';

function originOf(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.origin : undefined;
  } catch {
    return undefined;
  }
}
