// Checks that talk to the API server below the Kubernetes API: TCP, the TLS handshake (always
// verifying the CA and the host name: doctor never turns verification off), and GET /version.
// Through the Proxy-mode sidecar the first hop is plain HTTP on the Pod's loopback: TLS is the
// sidecar's business, and a failure names the sidecar rather than the API server.
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { PROXY_CONTAINER } from '../../crds/apiaccessprofile.ts';
import { fail, notApplicable, pass, warn, type Outcome } from './chain.ts';
import type { Connection } from './connection.ts';
import { chooseNamespace, type DoctorContext } from './context.ts';
import { get, sni, verifiedName } from './http-get.ts';
import { upstreamUnreachable } from './proxy-refusal.ts';
import { describeProxy, PROXY_ENV, sidecarLogsHint } from './proxy-route.ts';

export async function checkTcpConnect(context: DoctorContext): Promise<Outcome> {
  const connection = context.connection!;
  const { host, port } = connection;
  const timeoutMs = context.options.connectTimeoutMs;
  const started = performance.now();
  const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    const socket = tcpConnect({ host, port });
    socket.setTimeout(timeoutMs);
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    });
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e));
  });
  const target = `${host}:${port}`;
  if (error === undefined) return pass(`connected to ${target} in ${Math.round(performance.now() - started)} ms`, { host, port });
  const why: Record<string, string> = {
    ECONNREFUSED: 'nothing listens there',
    ETIMEDOUT: 'a firewall or NetworkPolicy drops the packets, or the address is wrong',
    EHOSTUNREACH: 'no route to that host',
    ENETUNREACH: 'no route to that network',
    ENOTFOUND: 'the host name does not resolve (DNS)',
    EAI_AGAIN: 'DNS did not answer',
  };
  const reason = why[error.code ?? ''] ?? 'the connection failed';
  const proxy = context.proxy;
  if (proxy !== undefined) {
    return fail(
      `cannot connect to ${describeProxy(proxy)}: ${error.code ?? error.message} (${reason})`,
      `the ${PROXY_CONTAINER} sidecar is not running, or listens on another port: \`${sidecarLogsHint(context.options.environment.env, chooseNamespace(context).name)}\`; its port is the ApiAccessProfile's spec.proxy.port (default 8001), which the mounted kubeconfig and ${PROXY_ENV} must name`,
      { host, port, code: error.code, proxy: proxy.url },
    );
  }
  return fail(`cannot connect to ${target}: ${error.code ?? error.message} (${reason})`, serverRemedy(connection), { host, port, code: error.code });
}

export async function checkTlsHandshake(context: DoctorContext): Promise<Outcome> {
  const connection = context.connection!;
  if (context.proxy?.loopback === true) {
    return notApplicable(`plain HTTP to ${describeProxy(context.proxy)}: this hop never leaves the Pod; the sidecar verifies the API server's certificate itself`);
  }
  if (!connection.https) {
    return warn(`${connection.server} is plain HTTP: no TLS, requests and credentials travel unencrypted`, 'use the API server\'s https:// address');
  }
  const name = verifiedName(connection);
  const result = await handshake(connection, context.caPem, context.options.connectTimeoutMs);
  const caWhere = connection.ca.kind === 'file' ? connection.ca.path : connection.ca.kind === 'data' ? connection.ca.where : 'the system trust store';
  if (result.ok) {
    const cert = result.certificate;
    const summary = `verified ${name} against ${caWhere}: server certificate ${flat(cert.subject)} issued by ${flat(cert.issuer)}, ${result.protocol}`;
    const details = { verifiedName: name, subject: flat(cert.subject), issuer: flat(cert.issuer), validTo: cert.valid_to, subjectAltName: cert.subjectaltname, protocol: result.protocol };
    if (connection.insecureSkipTlsVerify) {
      return warn(`${summary}, but cluster "${connection.cluster}" sets insecure-skip-tls-verify: clients do not verify`, 'remove insecure-skip-tls-verify from the kubeconfig: verification works with this CA', details);
    }
    return pass(summary, details);
  }
  const summary = `handshake with ${connection.host}:${connection.port} (verifying ${name} against ${caWhere}) failed: ${result.code ? `${result.code}: ` : ''}${result.message}`;
  const details = { verifiedName: name, code: result.code };
  if (connection.insecureSkipTlsVerify) {
    return warn(`${summary}; cluster "${connection.cluster}" sets insecure-skip-tls-verify, so clients connect unverified`, 'give the kubeconfig the cluster\'s CA and drop insecure-skip-tls-verify: anyone on the network path can impersonate this server', details);
  }
  return fail(summary, tlsRemedy(result.code, connection, caWhere, name), details);
}

export async function checkApiVersion(context: DoctorContext): Promise<Outcome> {
  const connection = context.connection!;
  const url = new URL(connection.server);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/version`;
  // Anonymous on purpose: this check asks "is this an API server", identity asks "who am I".
  // Sending the credential here would report an expired token twice, at the wrong check. (Through
  // the Proxy-mode sidecar the request carries the sidecar's token, as every request through it does.)
  const response = await get(url, connection, { ...(context.caPem ? { ca: context.caPem } : {}), timeoutMs: context.options.requestTimeoutMs });
  if ('error' in response) return fail(`GET ${url.href}: ${response.error}`, serverRemedy(connection));
  const { status, body } = response;
  const unreachable = context.proxy !== undefined ? upstreamUnreachable(response) : undefined;
  if (unreachable !== undefined) {
    return fail(
      `GET ${url.pathname}: the proxy sidecar answers but cannot reach the API server (HTTP 503): ${unreachable}`,
      `\`${sidecarLogsHint(context.options.environment.env, chooseNamespace(context).name)}\`; check the ApiAccessProfile's spec.kubeconfig.server (the URL the proxy forwards to) and NetworkPolicy egress from the Pod to the API server`,
      { status, proxy: context.proxy?.url },
    );
  }
  if (status === 401 || status === 403) {
    return warn(
      `GET ${url.pathname}: HTTP ${status} to an anonymous request: the server answers but hides its version from anonymous users`,
      'nothing to fix if identity passes (anonymous access is disabled on this cluster)',
      { status },
    );
  }
  if (status !== 200) return fail(`GET ${url.href}: HTTP ${status}: ${body.slice(0, 120).trim()}`, `is ${connection.server} the API server's address (not a proxy or another service, and with the right path)?`, { status });
  let version: { gitVersion?: string; platform?: string };
  try {
    version = JSON.parse(body) as typeof version;
  } catch {
    version = {};
  }
  if (typeof version.gitVersion !== 'string') {
    return fail(`GET ${url.href} answered 200 but not with a Kubernetes version: ${body.slice(0, 80).trim()}`, `${connection.server} is not a Kubernetes API server: check the server address`);
  }
  return pass(`Kubernetes ${version.gitVersion}${version.platform ? ` (${version.platform})` : ''}`, { gitVersion: version.gitVersion });
}

type Handshake =
  | { readonly ok: true; readonly certificate: PeerCertificate; readonly protocol: string }
  | { readonly ok: false; readonly code?: string; readonly message: string };

function handshake(connection: Connection, ca: Buffer | undefined, timeoutMs: number): Promise<Handshake> {
  return new Promise<Handshake>((resolve) => {
    // rejectUnauthorized stays at its default (true): a handshake that does not verify is the finding.
    const socket = tlsConnect({ host: connection.host, port: connection.port, ...(ca ? { ca } : {}), ...sni(connection) });
    socket.setTimeout(timeoutMs);
    socket.once('secureConnect', () => {
      const certificate = socket.getPeerCertificate();
      const protocol = socket.getProtocol() ?? 'TLS';
      socket.destroy();
      resolve({ ok: true, certificate, protocol });
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve({ ok: false, code: 'ETIMEDOUT', message: `no TLS answer within ${timeoutMs} ms (is this port speaking TLS?)` });
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve({ ok: false, ...(error.code ? { code: error.code } : {}), message: error.message }));
  });
}

function tlsRemedy(code: string | undefined, connection: Connection, caWhere: string, name: string): string {
  switch (code) {
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'CERT_SIGNATURE_FAILURE':
      return `${caWhere} is not the CA that signed the API server's certificate: use the cluster's CA (the kube-root-ca.crt ConfigMap, key ca.crt; \`openssl s_client -connect ${connection.host}:${connection.port} -showcerts\` shows the server's chain)`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `the certificate is not valid for ${name}: connect through a name it lists (in a Pod: https://kubernetes.default.svc or $KUBERNETES_SERVICE_HOST), or set tls-server-name`;
    case 'CERT_HAS_EXPIRED':
      return 'the API server\'s certificate has expired: renew it (or check this machine\'s clock)';
    case 'CERT_NOT_YET_VALID':
      return 'the API server\'s certificate is not valid yet: check this machine\'s clock';
    default:
      return `does ${connection.host}:${connection.port} speak TLS? Check the port (443 in a Pod, often 6443 outside) and ${serverSetting(connection)}`;
  }
}

function serverRemedy(connection: Connection): string {
  return `check ${serverSetting(connection)}`;
}

function serverSetting(connection: Connection): string {
  if (connection.source === 'in-cluster') {
    return 'KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT (the kubelet sets them from the default/kubernetes Service: do not override them in the Pod spec) and NetworkPolicies egress to the API server';
  }
  return `the server of cluster "${connection.cluster}" in ${connection.files.join(', ')} (\`apiaccess run --apiserver-host\` overrides it), and firewalls/NetworkPolicies on the way`;
}

/** Node's certificate names as "CN=x, O=y". */
function flat(name: PeerCertificate['subject'] | undefined): string {
  if (name === undefined) return '(none)';
  return Object.entries(name)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : String(value)}`)
    .join(', ');
}
