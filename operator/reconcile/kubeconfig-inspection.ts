// Inspects a user-supplied kubeconfig (from a ConfigMap) without using it: is it well-formed, does it
// carry a credential (which does not belong in a ConfigMap), and which identity does it present.
import { X509Certificate } from 'node:crypto';
import { parse } from 'yaml';
import { decodeJwt } from '../config/jwt.ts';
import { walkKubeconfig } from '../config/kubeconfig-walk.ts';

export type KubeconfigIdentity =
  | { kind: 'ServiceAccountToken'; username: string; namespace: string; serviceAccount: string }
  | { kind: 'Token'; username?: string }
  | { kind: 'ClientCertificate'; username: string; groups: string[] }
  | { kind: 'Unknown'; detail: string };

export type KubeconfigInspection =
  /** `tokenFileOnly`: the user names `tokenFile` but not `token-file`, which is all @kubernetes/client-node reads. */
  | { ok: true; server: string; user: string; credentials: string[]; identity: KubeconfigIdentity; tokenFileOnly?: string }
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
  const walked = walkKubeconfig(config);
  if (!walked.ok) return { ok: false, message: walked.problem };
  const { server, userName, user } = walked.walk;
  const inspection: KubeconfigInspection = { ok: true, server, user: userName, credentials: credentialFields(config.users), identity: identityOf(user) };
  if (typeof user.tokenFile === 'string' && user['token-file'] === undefined && user.token === undefined) inspection.tokenFileOnly = user.tokenFile;
  return inspection;
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

function identityOf(user: Readonly<Record<string, unknown>>): KubeconfigIdentity {
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
  const decoded = decodeJwt(token);
  const subject = decoded.ok ? decoded.claims.subject : undefined;
  if (subject === undefined) return { kind: 'Token' };
  const match = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(subject);
  if (match?.[1] && match[2]) return { kind: 'ServiceAccountToken', username: subject, namespace: match[1], serviceAccount: match[2] };
  return { kind: 'Token', username: subject };
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
