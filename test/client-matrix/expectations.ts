// What the clients' sources say each cell must do (measured in them, Dec 2026; see
// /docs/clients.md "Notes"). The test asserts the measured matrix against these, the failing cells
// included, so a change in a client or in the product (the generated kubeconfig's shape) shows up
// as a failed test instead of a silently different doc.
import type { CellResult, ClientId, ColumnId } from './matrix.ts';

/**
 * new-token: every request after the rotation (and the client's re-read period) carries the new token.
 * old-token: the client keeps sending the token it read at start (none carries the new one), and
 *   gets 401 once that token expired.
 * no-credential: the client sends no credential at all (the API server sees system:anonymous).
 * no-request: the client sends nothing at all (it refuses its own configuration).
 */
export type ExpectedRotation = 'new-token' | 'old-token' | 'no-credential' | 'no-request' | 'n/a';

/** The kubeconfigs the operator generated in the run: what client-node's cells depend on. */
export interface GeneratedShapes {
  /** The Generated kubeconfig's `user`. */
  readonly generatedUser: Readonly<Record<string, unknown>>;
  /** The Proxy kubeconfig's `cluster`. */
  readonly proxyCluster: Readonly<Record<string, unknown>>;
}

export interface Expectation {
  readonly allowed: boolean;
  readonly refused: boolean;
  readonly rotation: ExpectedRotation;
  /** Why, from the client's source: shown in the doc next to a cell that does not hold. */
  readonly because?: string;
}

const HOLDS: Expectation = { allowed: true, refused: true, rotation: 'new-token' };
const NO_ROTATION: Expectation = { allowed: true, refused: true, rotation: 'n/a' };

export const PYTHON_TOKEN_FILE_ONCE =
  'the Python client\'s `load_kube_config()` reads the kubeconfig\'s `tokenFile` once, when it loads the configuration (`KubeConfigLoader._load_user_token`); its refresh hook reloads only credentials with an expiry (`exec`, `auth-provider`), so the process keeps the first token until it expires (its in-cluster loader, by contrast, re-reads the token file every minute)';
export const CLIENT_NODE_IGNORES_TOKEN_FILE =
  '@kubernetes/client-node (every version up to 2.0) ignores the kubeconfig key `tokenFile`: with `tokenFile` alone it sends no credential, and the API server treats it as `system:anonymous`';
export const CLIENT_NODE_REFUSES_HTTP =
  '@kubernetes/client-node refuses a kubeconfig whose server is `http://` unless its cluster also sets `insecure-skip-tls-verify: true` (`KubeConfig.createAgent` throws "HTTP protocol is not allowed when skipTLSVerify is not set or false" before any request), so with the generated Proxy kubeconfig it sends nothing; the fix is that flag on the generated Proxy kubeconfig\'s cluster (meaningless for plain HTTP, ignored by the other clients), or `$KUBERNETES_API_PROXY` with a hand-made configuration'
export const CLIENT_NODE_TOKEN_FILE_ONCE =
  '@kubernetes/client-node reads the non-standard key `token-file` once, when it loads the kubeconfig (`User.token`), and never again (only its in-cluster configuration re-reads the token file, every 60 s)';

/**
 * The expected cell. client-node's cells depend on the kubeconfigs the operator generated: with
 * `tokenFile` only it sends no credential, with `token-file` too it authenticates, once; an
 * `http://` server without `insecure-skip-tls-verify` it refuses outright.
 */
export function expectedCell(client: ClientId, column: ColumnId, shapes: GeneratedShapes): Expectation {
  if (column === 'Secret') return NO_ROTATION;
  if (column === 'Proxy' && client === 'client-node' && shapes.proxyCluster['insecure-skip-tls-verify'] !== true) {
    return { allowed: false, refused: false, rotation: 'no-request', because: CLIENT_NODE_REFUSES_HTTP };
  }
  const generatedUser = shapes.generatedUser;
  if (column !== 'Generated') return HOLDS;
  if (client === 'python') return { allowed: true, refused: true, rotation: 'old-token', because: PYTHON_TOKEN_FILE_ONCE };
  if (client === 'client-node') {
    return typeof generatedUser['token-file'] === 'string'
      ? { allowed: true, refused: true, rotation: 'old-token', because: CLIENT_NODE_TOKEN_FILE_ONCE }
      : { allowed: false, refused: true, rotation: 'no-credential', because: CLIENT_NODE_IGNORES_TOKEN_FILE };
  }
  return HOLDS;
}

/** How the measured cell differs from the expectation: empty when it behaves as the facts say. */
export function mismatches(cell: CellResult, expected: Expectation): string[] {
  const found: string[] = [];
  const name = `${cell.client} × ${cell.column}`;
  if (cell.allowed.ok !== expected.allowed) found.push(`${name}: allowed request ${expected.allowed ? 'should succeed' : 'should fail'} (${cell.allowed.evidence})`);
  if (cell.forbidden.ok !== expected.refused) found.push(`${name}: forbidden request ${expected.refused ? 'should be refused' : 'should not be refused'} (${cell.forbidden.evidence})`);
  const r = cell.rotation;
  if (expected.rotation === 'n/a') {
    if (r.applicable) found.push(`${name}: no rotation expected, but one was measured (${r.evidence})`);
    return found;
  }
  if (!r.applicable) {
    found.push(`${name}: a rotation was expected, but it was not measured (${r.reason})`);
    return found;
  }
  const ids = Object.keys(r.after);
  const judged = Object.values(r.after).reduce((a, b) => a + b, 0);
  if (expected.rotation === 'no-request') {
    if (judged > 0 || cell.users.length > 0) found.push(`${name}: no request should reach the API server (users ${cell.users.join(', ')}; ${r.evidence})`);
  } else if (judged === 0) found.push(`${name}: no request after the rotation to judge (${r.evidence})`);
  else if (expected.rotation === 'new-token') {
    if (!r.usesNewToken) found.push(`${name}: every request after the rotation should carry the new token (${r.evidence})`);
    if (!r.stillWorks) found.push(`${name}: the allowed request should still succeed after the rotation (${r.evidence})`);
  } else if (expected.rotation === 'old-token') {
    // Judged on every request since the rotation: when the kubelet renews late, the old token may
    // already be refused by the end of the re-read period, and the client then sends it in vain.
    const since = Object.keys(r.sinceRotation);
    if (since.includes(`JTI=${r.newJti}`) || !since.includes(`JTI=${r.oldJti}`) || since.some((id) => id !== `JTI=${r.oldJti}` && id !== 'none')) {
      found.push(`${name}: the client should keep sending the old token ${r.oldJti} (${r.evidence})`);
    }
    const statuses = Object.keys(r.afterExpiry);
    if (!(statuses.length === 1 && statuses[0] === '401')) found.push(`${name}: once the old token expired every allowed request should get 401 (${r.evidence})`);
  } else if (ids.some((id) => id !== 'none') || !cell.users.every((u) => u === 'system:anonymous')) {
    found.push(`${name}: the client should send no credential (users ${cell.users.join(', ')}; ${r.evidence})`);
  }
  return found;
}
