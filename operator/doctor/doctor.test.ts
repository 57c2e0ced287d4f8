// The doctor's pure parts without a cluster: the chain's skip rules, --can parsing, JWT claims, the
// CA's validity dates and the token's expiry against an injected clock, and the table.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseAccessQueries } from './can.ts';
import { fail, notApplicable, pass, runChain, type Check } from './chain.ts';
import type { Connection } from './connection.ts';
import type { DoctorContext } from './context.ts';
import { canCheckName } from './doctor.ts';
import { decodeJwt } from '../config/jwt.ts';
import { checkCaCertificate, checkTokenClaims } from './local-checks.ts';
import { renderTable } from './report.ts';

const dir = mkdtempSync(join(tmpdir(), 'apiaccess-doctor-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const jwt = (claims: object): string =>
  [{ alg: 'RS256', kid: 'k' }, claims].map((part) => Buffer.from(JSON.stringify(part)).toString('base64url')).join('.') + '.c2lnbmF0dXJl';

function connection(overrides: Partial<Connection> = {}): Connection {
  return {
    source: 'flag',
    reason: '--kubeconfig /x',
    files: ['/x'],
    context: 'c',
    cluster: 'c',
    user: 'u',
    server: 'https://127.0.0.1:6443',
    host: '127.0.0.1',
    port: 6443,
    https: true,
    ca: { kind: 'system' },
    insecureSkipTlsVerify: false,
    credential: { kind: 'token', token: 't', field: 'user "u" token' },
    ...overrides,
  };
}

function context(now: string, facts: Partial<DoctorContext> = {}): DoctorContext {
  return {
    options: { can: [], environment: { env: {}, home: dir, inClusterRoot: join(dir, 'none') }, now: () => new Date(now), connectTimeoutMs: 100, requestTimeoutMs: 100 },
    connection: connection(),
    ...facts,
  };
}

describe('doctor chain', () => {
  const step = (name: string, needs: string[], outcome = pass('ok')): Check<object> => ({ name, needs, run: async () => outcome });

  it('GIVEN a failed check THEN its dependents and theirs are skipped, naming what they wait for, and independent checks still run', async () => {
    const results = await runChain([step('a', []), step('b', ['a'], fail('broken', 'fix b')), step('c', ['b']), step('d', ['c']), step('e', ['a'])], {});

    assert.deepEqual(
      results.map((r) => [r.name, r.verdict, r.summary]),
      [
        ['a', 'pass', 'ok'],
        ['b', 'fail', 'broken'],
        ['c', 'skip', 'not run: waits for b (failed)'],
        ['d', 'skip', 'not run: waits for c (skipped)'],
        ['e', 'pass', 'ok'],
      ],
    );
  });

  it('GIVEN a check that is not applicable THEN its dependents still run', async () => {
    const results = await runChain([step('a', [], notApplicable('no token')), step('b', ['a'])], {});
    assert.deepEqual(results.map((r) => r.verdict), ['skip', 'pass']);
  });

  it('GIVEN a check that throws THEN it is a fail, not a crash', async () => {
    const results = await runChain([{ name: 'a', needs: [], run: async () => Promise.reject(new Error('boom')) }], {});
    assert.equal(results[0]?.verdict, 'fail');
    assert.match(results[0]?.summary ?? '', /boom/);
  });
});

describe('--can VERB RESOURCE[.GROUP]', () => {
  it('GIVEN pairs THEN each becomes a query with group and subresource, named can-<verb>-<target>', () => {
    const parsed = parseAccessQueries(['list', 'pods', 'get', 'pods/log', 'patch', 'deployments.apps/scale', 'watch', 'ingresses.networking.k8s.io']);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.queries, [
      { verb: 'list', resource: 'pods', group: '' },
      { verb: 'get', resource: 'pods', group: '', subresource: 'log' },
      { verb: 'patch', resource: 'deployments', group: 'apps', subresource: 'scale' },
      { verb: 'watch', resource: 'ingresses', group: 'networking.k8s.io' },
    ]);
    assert.deepEqual(parsed.queries.map(canCheckName), ['can-list-pods', 'can-get-pods/log', 'can-patch-deployments.apps/scale', 'can-watch-ingresses.networking.k8s.io']);
  });

  it('GIVEN one word or a malformed resource THEN it is refused with the expected shape', () => {
    const odd = parseAccessQueries(['get']);
    const bad = parseAccessQueries(['get', 'Pods']);
    assert.equal(odd.ok, false);
    assert.match(odd.ok ? '' : odd.problem, /two words/);
    assert.equal(bad.ok, false);
    assert.match(bad.ok ? '' : bad.problem, /RESOURCE\[\.GROUP\]/);
  });
});

describe('token claims', () => {
  const claims = { sub: 'system:serviceaccount:ns:sa', aud: ['https://kubernetes.default.svc'], exp: Date.parse('2030-01-01T01:00:00Z') / 1000, 'kubernetes.io': { namespace: 'ns', serviceaccount: { name: 'sa' }, pod: { name: 'web-1' } } };

  it('GIVEN a ServiceAccount JWT THEN subject, audience, expiry and the bound Pod are read', () => {
    const decoded = decodeJwt(jwt(claims));
    assert.ok(decoded.ok);
    assert.equal(decoded.claims.subject, 'system:serviceaccount:ns:sa');
    assert.equal(decoded.claims.pod, 'web-1');
    assert.equal(decoded.claims.expiresAt?.toISOString(), '2030-01-01T01:00:00.000Z');
    assert.equal(decodeJwt('opaque-static-token').ok, false);
  });

  it('GIVEN the clock before, near and after exp THEN pass, warn within 10 minutes, fail once expired', async () => {
    const verdictAt = async (now: string): Promise<string> => (await checkTokenClaims(context(now, { token: jwt(claims) }))).verdict;
    assert.equal(await verdictAt('2030-01-01T00:49:00Z'), 'pass');
    assert.equal(await verdictAt('2030-01-01T00:51:00Z'), 'warn');
    assert.equal(await verdictAt('2030-01-01T01:00:01Z'), 'fail');
  });
});

describe('ca-certificate', () => {
  const caFile = join(dir, 'ca.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', caFile, '-subj', '/CN=unit-ca', '-days', '1'], { stdio: 'ignore' });

  it('GIVEN a CA file THEN it passes within its dates and fails after, naming its subject', async () => {
    const facts = { connection: connection({ ca: { kind: 'file', path: caFile } }) };
    const now = await checkCaCertificate(context(new Date().toISOString(), facts));
    const later = await checkCaCertificate(context(new Date(Date.now() + 3 * 86_400_000).toISOString(), facts));
    assert.equal(now.verdict, 'pass');
    assert.match(now.summary, /CN=unit-ca/);
    assert.equal(later.verdict, 'fail');
    assert.match(later.summary, /no certificate is within its validity dates/);
  });

  it('GIVEN a file that is not PEM THEN it fails', async () => {
    const outcome = await checkCaCertificate(context(new Date().toISOString(), { connection: connection({ ca: { kind: 'data', pem: Buffer.from('garbage'), where: 'certificate-authority-data' } }) }));
    assert.equal(outcome.verdict, 'fail');
    assert.match(outcome.summary, /holds no PEM certificate/);
  });
});

describe('table', () => {
  it('GIVEN a report THEN columns align, remedies sit under their check, colour only when asked', () => {
    const report = {
      ok: false,
      source: 'flag',
      server: 'https://x',
      proxy: null,
      identity: null,
      namespace: 'default',
      checks: [
        { name: 'config-source', verdict: 'pass' as const, summary: 'ok' },
        { name: 'token-file', verdict: 'fail' as const, summary: '/t does not exist', remedy: 'mount it' },
      ],
    };
    assert.equal(
      renderTable(report, false),
      ['CHECK          VERDICT  SUMMARY', 'config-source  PASS     ok', 'token-file     FAIL     /t does not exist', '                        fix: mount it', '', 'FAILED at token-file: 1 passed, 0 warnings, 1 failed, 0 skipped', ''].join('\n'),
    );
    assert.match(renderTable(report, true), /\x1b\[31mFAIL/);
  });
});
