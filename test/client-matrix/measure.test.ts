// Deciding a cell from its client's answers, its audited requests and its token file, and comparing
// it with what the clients' sources say.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectedCell, mismatches } from './expectations.ts';
import type { AuditedRequest, Outcome, TokenObservation } from './matrix.ts';
import { measureCell, type CellInput } from './measure.ts';

const T0 = Date.parse('2026-12-02T18:00:00Z');
const MIN = 60_000;
const USER = 'system:serviceaccount:ns:python-generated';
const token: TokenObservation = { oldJti: 'old', newJti: 'new', lastOldSeenAt: T0 + 8 * MIN, rotatedSeenAt: T0 + 8 * MIN + 20_000, oldExpiresAt: T0 + 10 * MIN };

/** A round every minute from T0 for 12 minutes: the allowed and the forbidden request, audited with `credential(at)`. */
function rounds(credential: (at: number) => string | undefined, user = USER, forbiddenStatus = 403): Pick<CellInput, 'outcomes' | 'audited'> {
  const outcomes: Outcome[] = [];
  const audited: AuditedRequest[] = [];
  for (let at = T0; at <= T0 + 12 * MIN; at += MIN) {
    // The old token is refused from its expiry plus a minute on.
    const allowedStatus = user === 'system:anonymous' ? 403 : credential(at) === undefined || (credential(at) === 'JTI=old' && at >= T0 + 11 * MIN) ? 401 : 200;
    outcomes.push({ at, request: 'allowed', status: allowedStatus, detail: '' }, { at, request: 'forbidden', status: forbiddenStatus, detail: 'Forbidden' });
    audited.push({ at, request: 'allowed', status: allowedStatus, user, credential: credential(at) }, { at, request: 'forbidden', status: forbiddenStatus, user, credential: credential(at) });
  }
  return { outcomes, audited };
}

function cell(client: CellInput['client'], column: CellInput['column'], r: Pick<CellInput, 'outcomes' | 'audited'>, t: CellInput['token'] = token): ReturnType<typeof measureCell> {
  return measureCell({ client, column, pod: 'p', expectedUser: USER, restarts: 0, token: t, rereadMs: 90_000, ...r });
}

const switches = (at: number): string => (at < T0 + 9 * MIN ? 'JTI=old' : 'JTI=new');

describe('measureCell', () => {
  it('a client that sends the new token after its re-read period holds', () => {
    const c = cell('client-go', 'Generated', rounds(switches));
    assert.equal(c.allowed.ok, true);
    assert.equal(c.forbidden.ok, true);
    assert.ok(c.rotation.applicable);
    assert.equal(c.rotation.usesNewToken, true);
    assert.equal(c.rotation.stillWorks, true);
    assert.deepEqual(c.rotation.after, { 'JTI=new': 6 });
    assert.deepEqual(c.rotation.afterExpiry, { '200': 2 });
    assert.deepEqual(mismatches(c, expectedCell('client-go', 'Generated', { generatedUser: { tokenFile: '/t' }, proxyCluster: {} })), []);
  });

  it('a client that keeps the old token does not hold, and is exactly what the Python Generated cell must show', () => {
    const c = cell('python', 'Generated', rounds(() => 'JTI=old'));
    assert.ok(c.rotation.applicable);
    assert.equal(c.rotation.usesNewToken, false);
    assert.match(c.rotation.evidence, /0 carried the new token, 6 the old one/);
    assert.deepEqual(c.rotation.afterExpiry, { '401': 2 });
    assert.deepEqual(mismatches(c, expectedCell('python', 'Generated', { generatedUser: { tokenFile: '/t' }, proxyCluster: {} })), []);
    // The same measurement for client-go is a failure the test reports.
    assert.match(mismatches(c, expectedCell('client-go', 'Generated', { generatedUser: { tokenFile: '/t' }, proxyCluster: {} })).join('\n'), /python × Generated: every request after the rotation should carry the new token/);
  });

  it('a late rotation leaves only refused requests to judge: the old token sent since the rotation still shows the read-once client', () => {
    // Renewed at 95 %: by the end of the re-read period the old token is already refused, the client's requests carry no accepted credential.
    const late: TokenObservation = { ...token, lastOldSeenAt: T0 + 9 * MIN + 20_000, rotatedSeenAt: T0 + 9 * MIN + 40_000 };
    // The API server logs a refused token's request without a credential.
    const c = cell('python', 'Generated', rounds((at) => (at < T0 + 11 * MIN ? 'JTI=old' : undefined)), late);
    assert.ok(c.rotation.applicable);
    assert.deepEqual(c.rotation.after, { none: 2 });
    assert.deepEqual(c.rotation.sinceRotation, { 'JTI=old': 2, none: 4 });
    assert.match(c.rotation.evidence, /since the new token appeared: old token ×2, no credential ×4/);
    assert.deepEqual(mismatches(c, expectedCell('python', 'Generated', { generatedUser: { tokenFile: '/t' }, proxyCluster: {} })), []);
  });

  it('a client that sends no credential fails the allowed request; with tokenFile alone that is client-node\'s expected cell', () => {
    const c = measureCell({ client: 'client-node', column: 'Generated', pod: 'p', expectedUser: USER, restarts: 0, token, rereadMs: 90_000, ...rounds(() => undefined, 'system:anonymous') });
    assert.equal(c.allowed.ok, false);
    assert.equal(c.forbidden.ok, true);
    assert.deepEqual(mismatches(c, expectedCell('client-node', 'Generated', { generatedUser: { tokenFile: '/t' }, proxyCluster: {} })), []);
    // With token-file as well, client-node must authenticate: the same measurement is then a difference.
    assert.notDeepEqual(mismatches(c, expectedCell('client-node', 'Generated', { generatedUser: { tokenFile: '/t', 'token-file': '/t' }, proxyCluster: {} })), []);
  });

  it('a client that refuses its configuration sends nothing; with an http:// Proxy kubeconfig lacking insecure-skip-tls-verify that is client-node\'s expected cell', () => {
    const outcomes: Outcome[] = [0, 1, 2].flatMap((i) => (['allowed', 'forbidden'] as const).map((request) => ({ at: T0 + 9 * MIN + i * 20_000, request, status: 0, detail: 'HTTP protocol is not allowed when skipTLSVerify is not set or false' })));
    const c = cell('client-node', 'Proxy', { outcomes, audited: [] });
    assert.equal(c.allowed.ok, false);
    assert.equal(c.forbidden.ok, false);
    assert.match(c.forbidden.evidence, /client saw 0 ×3; audit: no request reached the API server; e\.g\. "HTTP protocol is not allowed/);
    assert.deepEqual(mismatches(c, expectedCell('client-node', 'Proxy', { generatedUser: {}, proxyCluster: { server: 'http://127.0.0.1:8001' } })), []);
    // Once the generated Proxy kubeconfig sets the flag, client-node must hold like every other client.
    assert.notDeepEqual(mismatches(c, expectedCell('client-node', 'Proxy', { generatedUser: {}, proxyCluster: { server: 'http://127.0.0.1:8001', 'insecure-skip-tls-verify': true } })), []);
  });

  it('a forbidden request answered 404 was authorized, so it is not refused', () => {
    const c = cell('kubectl', 'ServiceAccount', rounds(switches, USER, 404));
    assert.equal(c.forbidden.ok, false);
    assert.match(c.forbidden.evidence, /client saw 404 ×13/);
  });

  it('a cell without a rotating token says why rotation does not apply', () => {
    const c = cell('curl', 'Secret', rounds(() => 'X509SHA256=abc'), { notApplicable: 'a client certificate' });
    assert.deepEqual(c.rotation, { applicable: false, reason: 'a client certificate' });
    assert.deepEqual(mismatches(c, expectedCell('curl', 'Secret', { generatedUser: {}, proxyCluster: {} })), []);
  });
});
