// Inspects a user-supplied kubeconfig (from a ConfigMap) without using it: is it well-formed, does it
// carry a credential (which does not belong in a ConfigMap), and which identity does it present.
import { X509Certificate } from 'node:crypto';
import { parse } from 'yaml';

export type KubeconfigIdentity =
  | { kind: 'ServiceAccountToken'; username: string; namespace: string; serviceAccount: string }
  | { kind: 'Token'; username?: string }
  | { kind: 'ClientCertificate'; username: string; groups: string[] }
  | { kind: 'Unknown'; detail: string };

export type KubeconfigInspection =
  | { ok: true; server: string; user: string; credentials: string[]; identity: KubeconfigIdentity }
  | { ok: false; message: string };

// Fields that hold secret material; a client certificate alone is public, its key is not.
const SECRET_USER_FIELDS = ['token', 'client-key-data', 'password'];
const SECRET_PROVIDER_FIELDS = ['id-token', 'refresh-token', 'access-token', 'client-secret'];

export function inspectKubeconfig(text: string): KubeconfigInspection {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    return { ok: false, message: `not valid YAML: ${(e as Error).message.split('\n')[0]}` };
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return { ok: false, message: 'not a kubeconfig: the document is not a mapping' };
  const config = doc as Record<string, unknown>;
  const current = config['current-context'];
  if (typeof current !== 'string' || current === '') return { ok: false, message: 'current-context is not set' };
  const context = named(config.contexts, current)?.context as { cluster?: string; user?: string } | undefined;
  if (context === undefined) return { ok: false, message: `current-context "${current}" names no entry in contexts` };
  const cluster = named(config.clusters, context.cluster)?.cluster as { server?: unknown } | undefined;
  if (cluster === undefined) return { ok: false, message: `context "${current}" names cluster "${String(context.cluster)}", which is not in clusters` };
  if (typeof cluster.server !== 'string' || !/^https?:\/\//.test(cluster.server)) {
    return { ok: false, message: `cluster "${String(context.cluster)}" has no server URL` };
  }
  const userName = context.user ?? '';
  const user = (named(config.users, userName)?.user ?? {}) as Record<string, unknown>;
  if (context.user !== undefined && named(config.users, userName) === undefined) {
    return { ok: false, message: `context "${current}" names user "${userName}", which is not in users` };
  }
  const credentials = credentialFields(config.users);
  return { ok: true, server: cluster.server, user: userName, credentials, identity: identityOf(user) };
}

function named(list: unknown, name: string | undefined): Record<string, unknown> | undefined {
  if (!Array.isArray(list) || name === undefined) return undefined;
  return list.find((e) => (e as { name?: unknown })?.name === name) as Record<string, unknown> | undefined;
}

/** Paths of every secret-bearing field, e.g. users[0].user.token; values are never returned. */
function credentialFields(users: unknown): string[] {
  if (!Array.isArray(users)) return [];
  return users.flatMap((entry, i) => {
    const user = ((entry as { user?: unknown })?.user ?? {}) as Record<string, unknown>;
    const direct = SECRET_USER_FIELDS.filter((f) => typeof user[f] === 'string' && user[f] !== '').map((f) => `users[${i}].user.${f}`);
    const provider = ((user['auth-provider'] as { config?: Record<string, unknown> } | undefined)?.config ?? {}) as Record<string, unknown>;
    const fromProvider = SECRET_PROVIDER_FIELDS.filter((f) => typeof provider[f] === 'string' && provider[f] !== '').map(
      (f) => `users[${i}].user.auth-provider.config.${f}`,
    );
    return [...direct, ...fromProvider];
  });
}

function identityOf(user: Record<string, unknown>): KubeconfigIdentity {
  if (typeof user.token === 'string') return tokenIdentity(user.token);
  const certData = user['client-certificate-data'];
  if (typeof certData === 'string') {
    try {
      const cert = new X509Certificate(Buffer.from(certData, 'base64'));
      const subject = parseSubject(cert.subject);
      return { kind: 'ClientCertificate', username: subject.CN?.[0] ?? '', groups: subject.O ?? [] };
    } catch {
      return { kind: 'Unknown', detail: 'client-certificate-data does not hold a PEM certificate' };
    }
  }
  if (typeof user['client-certificate'] === 'string') return { kind: 'Unknown', detail: `client certificate in file ${String(user['client-certificate'])}, not readable by the operator` };
  if (typeof user.tokenFile === 'string') return { kind: 'Unknown', detail: `token in file ${user.tokenFile}, read only inside the workload` };
  if (user.exec !== undefined) return { kind: 'Unknown', detail: 'credential from an exec plugin' };
  return { kind: 'Unknown', detail: 'no credential' };
}

/** A ServiceAccount JWT names its subject; the signature is not verified here (only the API server can). */
function tokenIdentity(token: string): KubeconfigIdentity {
  const payload = token.split('.')[1];
  if (payload === undefined) return { kind: 'Token' };
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: string };
    const match = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(claims.sub ?? '');
    if (match?.[1] && match[2]) return { kind: 'ServiceAccountToken', username: claims.sub ?? '', namespace: match[1], serviceAccount: match[2] };
    return claims.sub ? { kind: 'Token', username: claims.sub } : { kind: 'Token' };
  } catch {
    return { kind: 'Token' };
  }
}

function parseSubject(subject: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of subject.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    (out[key] ??= []).push(line.slice(eq + 1));
  }
  return out;
}
