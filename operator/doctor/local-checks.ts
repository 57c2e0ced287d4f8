// Checks that need no network: where the configuration comes from, the token file, the token's
// claims, the CA. Each returns its verdict as data; facts for later checks go into the context.
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { fail, notApplicable, pass, warn, type Outcome } from './chain.ts';
import type { Connection, Credential } from './connection.ts';
import { gatherConnection } from './connection.ts';
import { WARN_BEFORE_EXPIRY_MS, type DoctorContext } from './context.ts';
import { bypassedProxy, describeProxy, detectProxyRoute, PROXY_ENV, PROXY_HOLDS_CREDENTIALS } from './proxy-route.ts';
import { decodeJwt, type TokenClaims } from '../config/jwt.ts';

const PRECEDENCE = '--kubeconfig > KUBECONFIG > in-cluster > ~/.kube/config';

export async function checkConfigSource(context: DoctorContext): Promise<Outcome> {
  const gathered = gatherConnection(context.options.kubeconfig, context.options.environment);
  if (!gathered.ok) {
    return fail(gathered.problem, configRemedy(context, gathered.files), { precedence: PRECEDENCE, files: gathered.files });
  }
  const connection = gathered.connection;
  context.connection = connection;
  const env = context.options.environment.env;
  const proxy = detectProxyRoute(connection, env);
  if (proxy !== undefined) context.proxy = proxy;
  // Through the proxy a token in the kubeconfig is never used (the sidecar strips Authorization):
  // decoding it would only report on a credential that plays no part.
  if (connection.credential.kind === 'token' && proxy === undefined) context.token = connection.credential.token;
  const details = {
    source: connection.source,
    reason: connection.reason,
    precedence: PRECEDENCE,
    files: connection.files,
    context: connection.context,
    cluster: connection.cluster,
    user: connection.user,
    server: connection.server,
    credential: connection.credential.kind,
    ...(proxy !== undefined ? { proxy: { url: proxy.url, envMatches: proxy.envMatches, loopback: proxy.loopback } } : {}),
  };
  if (connection.inClusterProblem !== undefined) {
    return warn(
      `in-cluster (KUBERNETES_SERVICE_HOST=${connection.host}, KUBERNETES_SERVICE_PORT=${connection.port}) but not usable: ${connection.files[0]} does not exist, and there is no --kubeconfig, KUBECONFIG or ~/.kube/config`,
      'see token-file',
      details,
    );
  }
  const summary = `${connection.reason}; ${whyThisSource(connection)}; context "${connection.context}", server ${connection.server}`;
  if (proxy !== undefined) {
    const unused = connection.credential.kind === 'none' ? '' : `; the kubeconfig's credential, ${describeCredential(connection.credential)}, is not used: the sidecar replaces it`;
    return pass(`${summary}; that is ${describeProxy(proxy, false)}, which holds the ServiceAccount token and the CA and forwards only what the ApiAccessProfile allows${unused}`, details);
  }
  const bypassed = connection.source === 'flag' ? undefined : bypassedProxy(connection, env);
  if (bypassed !== undefined) {
    return warn(
      `${summary}; but ${PROXY_ENV}=${bypassed} is set (an ApiAccessProfile in Proxy mode), and this configuration does not use it`,
      `in Proxy mode only the sidecar holds a token: use the kubeconfig the profile mounts (its env, KUBECONFIG by default), or send requests to $${PROXY_ENV}`,
      details,
    );
  }
  return pass(summary, details);
}

export async function checkTokenFile(context: DoctorContext): Promise<Outcome> {
  const connection = context.connection!;
  const credential = connection.credential;
  if (context.proxy !== undefined) return notApplicable(`not applicable: ${PROXY_HOLDS_CREDENTIALS} (Proxy mode); this container sends no credential`);
  if (credential.kind !== 'token-file') return notApplicable(`no token file: the credential is ${describeCredential(credential)}`);
  const { path } = credential;
  let size: number;
  let mode: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) return fail(`${path} (${credential.field}) is not a file`, tokenFileRemedy(connection, path));
    size = stat.size;
    mode = stat.mode & 0o777;
  } catch (error) {
    return fail(`${path} (${credential.field}) does not exist${errorCode(error) === 'ENOENT' ? '' : `: ${errorMessage(error)}`}`, tokenFileRemedy(connection, path));
  }
  let token: string;
  try {
    token = readFileSync(path, 'utf8').trim();
  } catch (error) {
    return fail(
      `${path} exists but cannot be read by uid ${process.getuid?.() ?? '?'}: ${errorCode(error) ?? errorMessage(error)}`,
      'make it readable by the container user: the projected volume\'s defaultMode, or the Pod\'s securityContext.fsGroup / runAsUser',
    );
  }
  if (token === '') return fail(`${path} is empty`, tokenFileRemedy(connection, path));
  context.token = token;
  return pass(`${path} exists and is readable (${size} bytes, mode ${mode.toString(8).padStart(4, '0')}; ${credential.field})`, { path, bytes: size });
}

export async function checkTokenClaims(context: DoctorContext): Promise<Outcome> {
  if (context.proxy !== undefined) return notApplicable(`not applicable: ${PROXY_HOLDS_CREDENTIALS} (Proxy mode); identity shows whom the sidecar's token authenticates`);
  if (context.token === undefined) return notApplicable(`no token: the credential is ${describeCredential(context.connection!.credential)}`);
  const decoded = decodeJwt(context.token);
  if (!decoded.ok) return notApplicable(`the token is ${decoded.problem}: an opaque token only the API server can judge (see identity)`);
  const claims = decoded.claims;
  context.claims = claims;
  const now = context.options.now();
  const details = claimDetails(claims);
  const who = `subject ${claims.subject ?? '(none)'}${claims.pod ? `, bound to Pod ${claims.pod}` : ''}, audience ${claims.audience.join(', ') || '(none)'}`;
  const unverified = 'signature not verified locally (only the API server can)';
  if (claims.expiresAt !== undefined && claims.expiresAt.getTime() <= now.getTime()) {
    return fail(`expired ${relativeTime(claims.expiresAt, now)} (${claims.expiresAt.toISOString()}): ${who}; ${unverified}`, expiredRemedy(context.connection!, claims), details);
  }
  if (claims.notBefore !== undefined && claims.notBefore.getTime() > now.getTime() + 60_000) {
    return fail(
      `not valid before ${claims.notBefore.toISOString()} (${relativeTime(claims.notBefore, now)}): ${who}; ${unverified}`,
      'the token was issued in the future: compare this machine\'s clock with the control plane\'s (NTP)',
      details,
    );
  }
  if (claims.expiresAt === undefined) return pass(`${who}, never expires (a legacy Secret-based token); ${unverified}`, details);
  const expiry = `expires ${claims.expiresAt.toISOString()} (${relativeTime(claims.expiresAt, now)})`;
  if (claims.expiresAt.getTime() - now.getTime() < WARN_BEFORE_EXPIRY_MS) {
    return warn(`${expiry}: ${who}; ${unverified}`, expiringRemedy(context.connection!), details);
  }
  return pass(`${who}, ${expiry}; ${unverified}`, details);
}

export async function checkCaCertificate(context: DoctorContext): Promise<Outcome> {
  const connection = context.connection!;
  if (context.proxy !== undefined) return notApplicable(`not applicable: ${PROXY_HOLDS_CREDENTIALS} (Proxy mode); the sidecar verifies the API server's certificate`);
  if (!connection.https) return notApplicable('plain HTTP: no certificate authority is involved');
  const ca = connection.ca;
  if (ca.kind === 'system') {
    return warn(
      'no certificate-authority configured: Node\'s built-in public trust store decides',
      `fine for a publicly signed API server; otherwise set certificate-authority(-data) of cluster "${connection.cluster}" to the cluster's CA`,
    );
  }
  const where = ca.kind === 'file' ? ca.path : ca.where;
  let pem: Buffer;
  if (ca.kind === 'file') {
    try {
      pem = readFileSync(ca.path);
    } catch (error) {
      return fail(`${ca.path} cannot be read: ${errorCode(error) === 'ENOENT' ? 'it does not exist' : errorMessage(error)}`, caFileRemedy(connection, ca.path));
    }
  } else {
    pem = ca.pem;
  }
  const blocks = pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const certificates: X509Certificate[] = [];
  for (const block of blocks) {
    try {
      certificates.push(new X509Certificate(block));
    } catch {
      // Reported below when nothing usable remains; one bad block in a bundle is a warning.
    }
  }
  if (certificates.length === 0) {
    return fail(`${where} holds no PEM certificate`, 'it must contain the cluster CA as "-----BEGIN CERTIFICATE-----" PEM (certificate-authority-data: that PEM, base64-encoded)');
  }
  const now = context.options.now();
  const current = certificates.filter((c) => new Date(c.validFrom) <= now && now <= new Date(c.validTo));
  const described = certificates.map((c) => `${dn(c.subject)} (valid ${isoDate(c.validFrom)} to ${isoDate(c.validTo)})`);
  const details = { where, certificates: certificates.map((c) => ({ subject: dn(c.subject), issuer: dn(c.issuer), validFrom: new Date(c.validFrom).toISOString(), validTo: new Date(c.validTo).toISOString(), ca: c.ca })) };
  if (current.length === 0) {
    return fail(`${where}: no certificate is within its validity dates now (${now.toISOString()}): ${described.join('; ')}`, 'use the cluster\'s current CA; if it looks valid, check this machine\'s clock', details);
  }
  context.caPem = pem;
  if (current.length < certificates.length || blocks.length > certificates.length) {
    return warn(`${where}: ${current.length} of ${blocks.length} certificates usable: ${described.join('; ')}`, 'remove the expired or unreadable certificates from the bundle', details);
  }
  return pass(`${where}: ${described.join('; ')}`, details);
}

function whyThisSource(connection: Connection): string {
  switch (connection.source) {
    case 'flag':
      return 'the flag wins over KUBECONFIG, in-cluster and ~/.kube/config';
    case 'KUBECONFIG':
      return 'KUBECONFIG is set, so in-cluster files and ~/.kube/config are not used';
    case 'in-cluster':
      return 'no --kubeconfig, KUBECONFIG is empty, and in-cluster comes before ~/.kube/config';
    case 'home':
      return 'no --kubeconfig, KUBECONFIG is empty, no in-cluster token';
  }
}

function configRemedy(context: DoctorContext, files: readonly string[]): string {
  if (files.length > 0) return `fix ${files.join(', ')}, or point --kubeconfig / KUBECONFIG at a valid kubeconfig`;
  if (context.options.kubeconfig !== undefined) return 'check the --kubeconfig path';
  if (context.options.environment.env.KUBECONFIG) return 'point KUBECONFIG at existing files (a list separated by ":"), or unset it';
  return 'pass --kubeconfig FILE or set KUBECONFIG; in a Pod, mount the ServiceAccount token (automountServiceAccountToken: true) or bind the workload with an ApiAccessProfile';
}

export function describeCredential(credential: Credential): string {
  switch (credential.kind) {
    case 'token-file':
      return `the token file ${credential.path}`;
    case 'token':
      return `an inline token (${credential.field})`;
    case 'client-certificate':
      return `a client certificate (${credential.field})`;
    case 'exec':
      return `an exec plugin (${credential.command})`;
    case 'auth-provider':
      return `the auth-provider ${credential.name}`;
    case 'basic':
      return 'a username and password';
    case 'none':
      return 'none: requests are anonymous';
  }
}

function tokenFileRemedy(connection: Connection, path: string): string {
  if (connection.source === 'in-cluster') {
    return 'mount the ServiceAccount token: set automountServiceAccountToken: true on the Pod or its ServiceAccount (or bind the workload with an ApiAccessProfile, auth: ServiceAccount), or give the container a kubeconfig';
  }
  return `mount the token at ${path}: a projected volume with a serviceAccountToken source (path: token) at the kubeconfig's folder, as an ApiAccessProfile with auth: Kubeconfig does`;
}

function caFileRemedy(connection: Connection, path: string): string {
  if (connection.source === 'in-cluster') return 'the ca.crt comes with the ServiceAccount token mount (from the kube-root-ca.crt ConfigMap): mount the token, see token-file';
  return `mount the cluster CA at ${path} (the kube-root-ca.crt ConfigMap, key ca.crt), or embed it as certificate-authority-data`;
}

function expiredRemedy(connection: Connection, claims: TokenClaims): string {
  if (connection.credential.kind === 'token-file' && claims.pod !== undefined) {
    return `the kubelet refreshes a projected token before it expires: a stale copy of ${connection.credential.path} (copied out of the volume?) or a stopped kubelet; restart the Pod`;
  }
  return 'get a fresh token: kubectl create token SERVICEACCOUNT -n NAMESPACE, or npx apiaccess kubeconfig PROFILE -n NAMESPACE';
}

function expiringRemedy(connection: Connection): string {
  if (connection.credential.kind === 'token-file') return 'a projected token is refreshed by the kubelet: make sure the client re-reads the file (client-go and Python re-read tokenFile)';
  return 'a static token will stop working soon: get a longer-lived one (TokenRequest with a longer --duration)';
}

function claimDetails(claims: TokenClaims): Record<string, unknown> {
  return {
    signatureVerified: false,
    subject: claims.subject,
    issuer: claims.issuer,
    audience: claims.audience,
    issuedAt: claims.issuedAt?.toISOString(),
    notBefore: claims.notBefore?.toISOString(),
    expiresAt: claims.expiresAt?.toISOString(),
    namespace: claims.namespace,
    serviceAccount: claims.serviceAccount,
    pod: claims.pod,
  };
}

/** "CN=x\nO=y" (node's format) as "CN=x, O=y". */
export function dn(name: string): string {
  return name.split('\n').filter((p) => p !== '').join(', ');
}

/** "in 59m", "3h ago": how a person reads an expiry. */
function relativeTime(at: Date, now: Date): string {
  const seconds = Math.round((at.getTime() - now.getTime()) / 1000);
  const abs = Math.abs(seconds);
  const amount =
    abs < 120 ? `${abs}s` : abs < 7200 ? `${Math.round(abs / 60)}m` : abs < 172_800 ? `${Math.round(abs / 3600)}h` : `${Math.round(abs / 86_400)}d`;
  return seconds >= 0 ? `in ${amount}` : `${amount} ago`;
}

function isoDate(text: string): string {
  return new Date(text).toISOString().slice(0, 10);
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
