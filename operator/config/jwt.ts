// Reads the claims of a JSON Web Token WITHOUT verifying its signature: only the API server holds
// the keys that can. Good enough to explain a token (who, for whom, until when), never to trust it.
// Used by `apiaccess doctor` (its own token) and the operator's inspection of users' kubeconfigs.

export interface TokenClaims {
  readonly subject?: string;
  readonly issuer?: string;
  readonly audience: readonly string[];
  readonly issuedAt?: Date;
  readonly notBefore?: Date;
  readonly expiresAt?: Date;
  /** From the `kubernetes.io` claim of ServiceAccount tokens. */
  readonly namespace?: string;
  readonly serviceAccount?: string;
  /** Set for a token bound to a Pod (projected volumes, TokenRequest with a Pod reference). */
  readonly pod?: string;
  readonly secret?: string;
}

export type DecodedToken = { readonly ok: true; readonly claims: TokenClaims } | { readonly ok: false; readonly problem: string };

interface RawClaims {
  sub?: unknown;
  iss?: unknown;
  aud?: unknown;
  iat?: unknown;
  nbf?: unknown;
  exp?: unknown;
  'kubernetes.io'?: {
    namespace?: unknown;
    serviceaccount?: { name?: unknown };
    pod?: { name?: unknown };
    secret?: { name?: unknown };
  };
}

export function decodeJwt(token: string): DecodedToken {
  const parts = token.trim().split('.');
  if (parts.length !== 3 || parts.some((p) => p === '')) return { ok: false, problem: 'not a JWT (expected three dot-separated parts)' };
  let raw: RawClaims;
  try {
    raw = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as RawClaims;
  } catch {
    return { ok: false, problem: 'not a JWT (its payload is not base64url JSON)' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, problem: 'not a JWT (its payload is not a JSON object)' };
  const k8s = raw['kubernetes.io'];
  return {
    ok: true,
    claims: dropUndefined({
      subject: text(raw.sub),
      issuer: text(raw.iss),
      audience: typeof raw.aud === 'string' ? [raw.aud] : Array.isArray(raw.aud) ? raw.aud.filter((a): a is string => typeof a === 'string') : [],
      issuedAt: time(raw.iat),
      notBefore: time(raw.nbf),
      expiresAt: time(raw.exp),
      namespace: text(k8s?.namespace),
      serviceAccount: text(k8s?.serviceaccount?.name),
      pod: text(k8s?.pod?.name),
      secret: text(k8s?.secret?.name),
    }),
  };
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function time(value: unknown): Date | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? new Date(value * 1000) : undefined;
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
