// What the doctor's checks share: the options, and the facts earlier checks established for later
// ones (a check only reads facts of the checks it `needs`, which the chain ran first).
import type { ClientConfigEnvironment } from '../config/client-config.ts';
import type { KubeClient } from '../kube/client.ts';
import type { AccessQuery } from './can.ts';
import type { Connection } from './connection.ts';
import type { ProxyRoute } from './proxy-route.ts';
import type { TokenClaims } from '../config/jwt.ts';

export interface DoctorOptions {
  readonly kubeconfig?: string;
  readonly namespace?: string;
  readonly can: readonly AccessQuery[];
  readonly environment: ClientConfigEnvironment;
  readonly now: () => Date;
  /** TCP connect and TLS handshake; default 3000. */
  readonly connectTimeoutMs: number;
  /** Each HTTP request; default 10000. */
  readonly requestTimeoutMs: number;
}

export interface Identity {
  readonly username: string;
  readonly groups: readonly string[];
}

export interface NamespaceChoice {
  readonly name: string;
  /** "from --namespace", "from context \"x\"", ...: completes "namespace <name> (<from>)". */
  readonly from: string;
}

export interface DoctorContext {
  readonly options: DoctorOptions;
  /** Set by config-source. */
  connection?: Connection;
  /** Set by config-source when the server is the Proxy-mode sidecar (or another loopback proxy). */
  proxy?: ProxyRoute;
  /** Set by token-file or config-source (an inline token); used to decode claims, never printed. */
  token?: string;
  /** Set by token-claims when the token is a JWT. */
  claims?: TokenClaims;
  /** Set by ca-certificate; undefined means Node's built-in trust store. */
  caPem?: Buffer;
  /** Set by identity: the client every API check uses, built as `apiaccess run` builds its own. */
  client?: KubeClient;
  identity?: Identity;
}

export const WARN_BEFORE_EXPIRY_MS = 10 * 60 * 1000;

/** --namespace, else the kubeconfig context's (in-cluster: the namespace file), else POD_NAMESPACE, else the ServiceAccount token's, else default. */
export function chooseNamespace(context: DoctorContext): NamespaceChoice {
  const { options, connection, claims } = context;
  if (options.namespace !== undefined) return { name: options.namespace, from: 'from --namespace' };
  if (connection?.namespace !== undefined) {
    return { name: connection.namespace, from: connection.source === 'in-cluster' ? 'from the in-cluster namespace file' : `from context "${connection.context}"` };
  }
  const podNamespace = options.environment.env.POD_NAMESPACE;
  if (podNamespace) return { name: podNamespace, from: 'from POD_NAMESPACE' };
  if (claims?.namespace !== undefined) return { name: claims.namespace, from: 'from the ServiceAccount token' };
  return { name: 'default', from: 'nothing names one' };
}
