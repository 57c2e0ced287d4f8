// The pure half of the matrix: from what a cell's client logged, what the audit log recorded for its
// Pod and what its token file held, decide the cell. No I/O here.
import { EXPIRY_LEEWAY_MS, type AuditedRequest, type CellResult, type ClientId, type ColumnId, type Outcome, type Rotation, type TokenObservation, type Verdict } from './matrix.ts';

export interface CellInput {
  readonly client: ClientId;
  readonly column: ColumnId;
  readonly pod: string;
  readonly expectedUser: string;
  readonly restarts: number;
  readonly outcomes: readonly Outcome[];
  readonly audited: readonly AuditedRequest[];
  /** Token cells: the observation; other cells: why rotation does not apply. */
  readonly token: TokenObservation | { readonly notApplicable: string };
  /** How long after the new token appeared a client may keep the old one (its re-read period). */
  readonly rereadMs: number;
}

const NO_CREDENTIAL = 'none';

export function measureCell(input: CellInput): CellResult {
  const users = [...new Set(input.audited.map((r) => r.user))].sort();
  return {
    client: input.client,
    column: input.column,
    pod: input.pod,
    expectedUser: input.expectedUser,
    users,
    restarts: input.restarts,
    allowed: allowedVerdict(input),
    forbidden: forbiddenVerdict(input),
    rotation: 'notApplicable' in input.token ? { applicable: false, reason: input.token.notApplicable } : rotation(input, input.token),
  };
}

/** Succeeded in the client's eyes, and the API server saw it as the cell's identity. */
function allowedVerdict(input: CellInput): Verdict {
  const mine = input.outcomes.filter((o) => o.request === 'allowed');
  const ok = mine.filter((o) => o.status === 200);
  const audited = input.audited.filter((r) => r.request === 'allowed');
  const asExpected = audited.filter((r) => r.status === 200 && r.user === input.expectedUser);
  const failures = summarize(mine.filter((o) => o.status !== 200).map((o) => `${o.status} ${o.detail}`.trim()));
  const evidence = `${ok.length} of ${mine.length} answered 200; audit: ${asExpected.length} of ${audited.length} answered 200 as ${input.expectedUser}${auditUsers(audited)}${failures ? `; failures: ${failures}` : ''}`;
  return { ok: ok.length > 0 && asExpected.length > 0, evidence };
}

/** Refused every time (403, or 401 once a credential is no longer accepted), never answered. */
function forbiddenVerdict(input: CellInput): Verdict {
  const mine = input.outcomes.filter((o) => o.request === 'forbidden');
  const audited = input.audited.filter((r) => r.request === 'forbidden');
  const refused = (status: number): boolean => status === 403 || status === 401;
  const statuses = summarize(mine.map((o) => String(o.status)));
  const auditStatuses = summarize(audited.map((r) => `${r.status} as ${r.user}`));
  const sample = (mine.find((o) => o.status === 403) ?? mine[0])?.detail;
  const evidence = `client saw ${statuses || 'nothing'}; audit: ${auditStatuses || 'no request reached the API server'}${sample ? `; e.g. "${sample.slice(0, 160)}"` : ''}`;
  const ok = mine.length > 0 && mine.every((o) => refused(o.status)) && mine.some((o) => o.status === 403) && audited.every((r) => refused(r.status));
  return { ok, evidence };
}

function rotation(input: CellInput, token: TokenObservation): Rotation {
  const judgedFrom = token.rotatedSeenAt + input.rereadMs;
  const before = input.audited.filter((r) => r.at < token.lastOldSeenAt);
  const after = input.audited.filter((r) => r.at >= judgedFrom);
  const oldId = `JTI=${token.oldJti}`;
  const newId = `JTI=${token.newJti}`;
  const afterIds = counts(after.map((r) => r.credential ?? NO_CREDENTIAL));
  const sinceRotation = counts(input.audited.filter((r) => r.at >= token.rotatedSeenAt).map((r) => r.credential ?? NO_CREDENTIAL));
  const usesNewToken = after.length > 0 && after.every((r) => r.credential === newId);
  const allowedAfter = input.outcomes.filter((o) => o.request === 'allowed' && o.at >= judgedFrom);
  const stillWorks = allowedAfter.length > 0 && allowedAfter.every((o) => o.status === 200);
  const sentOld = afterIds[oldId] ?? 0;
  const sentNew = afterIds[newId] ?? 0;
  const none = afterIds[NO_CREDENTIAL] ?? 0;
  const refusedFrom = token.oldExpiresAt + EXPIRY_LEEWAY_MS;
  const afterExpiry = counts(input.outcomes.filter((o) => o.request === 'allowed' && o.at >= refusedFrom).map((o) => String(o.status)));
  const parts = [
    `old token ${token.oldJti}, new token ${token.newJti} seen at ${iso(token.rotatedSeenAt)}`,
    `of ${after.length} requests from ${iso(judgedFrom)} on, ${sentNew} carried the new token, ${sentOld} the old one${none > 0 ? `, ${none} no credential` : ''}`,
    `${allowedAfter.filter((o) => o.status === 200).length} of ${allowedAfter.length} allowed requests succeeded`,
    `since the new token appeared: ${sentSince(sinceRotation, oldId, newId)}`,
  ];
  const expiry = summarize(Object.entries(afterExpiry).flatMap(([status, n]) => Array<string>(n).fill(status)));
  parts.push(`after the old token's expiry (${iso(token.oldExpiresAt)}, refused from ${iso(refusedFrom)}) the allowed request got ${expiry || 'no answer yet'}`);
  return {
    applicable: true,
    oldJti: token.oldJti,
    newJti: token.newJti,
    rotatedSeenAt: iso(token.rotatedSeenAt),
    judgedFrom: iso(judgedFrom),
    before: counts(before.map((r) => r.credential ?? NO_CREDENTIAL)),
    after: afterIds,
    sinceRotation,
    usesNewToken,
    stillWorks,
    oldTokenRefusedFrom: iso(refusedFrom),
    afterExpiry,
    evidence: parts.join('; '),
  };
}

/** `new token ×3, old token ×12, no credential ×2`. */
function sentSince(ids: Readonly<Record<string, number>>, oldId: string, newId: string): string {
  const name = (id: string): string => (id === newId ? 'new token' : id === oldId ? 'old token' : id === NO_CREDENTIAL ? 'no credential' : id);
  const entries = Object.entries(ids);
  return entries.length === 0 ? 'no request' : entries.map(([id, n]) => `${name(id)} ×${n}`).join(', ');
}

function counts(values: readonly string[]): Record<string, number> {
  const result: Record<string, number> = {};
  for (const v of values) result[v] = (result[v] ?? 0) + 1;
  return Object.fromEntries(Object.entries(result).sort(([a], [b]) => a.localeCompare(b)));
}

/** `403 ×12, 200 ×1`: distinct values with counts, most frequent first. */
export function summarize(values: readonly string[]): string {
  return Object.entries(counts(values))
    .sort(([, a], [, b]) => b - a)
    .map(([v, n]) => (n > 1 ? `${v} ×${n}` : v))
    .join(', ');
}

function auditUsers(audited: readonly AuditedRequest[]): string {
  const users = [...new Set(audited.map((r) => r.user))];
  return users.length > 0 ? ` (users seen: ${users.join(', ')})` : '';
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}
