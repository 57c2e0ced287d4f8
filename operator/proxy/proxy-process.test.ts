// The compiled `apiaccess proxy` as the sidecar runs it (a process of its own, token, CA and rules
// in files) in front of the real API server, driven with plain HTTP as an application would.
// The API server's audit log proves what reached it and with which token (credential-id = JTI).
// Needs a control plane (APIACCESS_TEST_CLUSTER, no node required) and `npm run build`.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { auditEventsSince, auditMark, CREDENTIAL_ID } from '../../test/audit.ts';
import { apiJson, apiRequest, type ApiTarget } from '../../test/cluster/api-request.ts';
import { applyYaml, createNamespace, testCluster, waitFor } from '../../test/harness.ts';
import { DENIED_HEADER } from './authorize.ts';

const root = resolve(import.meta.dirname, '..', '..');
const BIN = join(root, 'operator', 'bin', 'apiaccess.js');
const SA = 'agent';
const RULES = [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }];

let ns = '';
let dir = '';
let admin: ApiTarget;
let port = 0;
let proxy: ChildProcess;
let logs = '';
const tokens: string[] = [];

function jtiOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { jti: string }).jti;
}

async function requestToken(): Promise<string> {
  const tr = await apiJson<{ status: { token: string } }>(admin, 'POST', `/api/v1/namespaces/${ns}/serviceaccounts/${SA}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 600 },
  });
  tokens.push(tr.status.token);
  return tr.status.token;
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const free = (server.address() as AddressInfo).port;
  server.close();
  await once(server, 'close');
  return free;
}

function proxyArgs(overrides: Record<string, string> = {}): string[] {
  const flags = {
    port: String(port),
    server: testCluster().server,
    'token-file': join(dir, 'token'),
    'certificate-authority': join(dir, 'ca.crt'),
    rules: join(dir, 'rules.json'),
    ...overrides,
  };
  return [BIN, 'proxy', ...Object.entries(flags).map(([k, v]) => `--${k}=${v}`)];
}

function probe(): number | null {
  return spawnSync(process.execPath, [BIN, 'proxy', '--probe', `--port=${port}`], { encoding: 'utf8' }).status;
}

function url(path: string): string {
  return `http://127.0.0.1:${port}${path}`;
}

/** The audit events of requests by the profile's ServiceAccount since `mark`. */
async function saEvents(mark: number): Promise<Awaited<ReturnType<typeof auditEventsSince>>> {
  return await auditEventsSince(mark, (e) => e.user.username === `system:serviceaccount:${ns}:${SA}`);
}

before(async () => {
  assert.ok(existsSync(join(root, 'dist', 'operator', 'cli.js')), 'run `npm run build` first: the test starts the compiled proxy');
  const info = testCluster();
  admin = { server: info.server, caFile: info.caFile, token: info.tokens.admin };
  ns = await createNamespace('proxy');
  await applyYaml([
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SA, namespace: ns } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: SA, namespace: ns }, rules: [...RULES, { apiGroups: [''], resources: ['secrets'], verbs: ['list'] }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: SA, namespace: ns }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: SA }, subjects: [{ kind: 'ServiceAccount', name: SA, namespace: ns }] },
  ]);
  dir = mkdtempSync(join(tmpdir(), 'apiaccess-proxy-'));
  writeFileSync(join(dir, 'token'), await requestToken());
  copyFileSync(info.caFile, join(dir, 'ca.crt'));
  writeFileSync(join(dir, 'rules.json'), JSON.stringify({ version: 1, profile: `${ns}/${SA}`, user: `system:serviceaccount:${ns}:${SA}`, scope: 'Namespace', namespace: ns, rules: RULES }));
  port = await freePort();
  proxy = spawn(process.execPath, proxyArgs({ 'log-level': 'debug', 'log-format': 'json' }), { stdio: ['ignore', 'pipe', 'pipe'] });
  proxy.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
  proxy.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
  await waitFor(async () => probe() === 0, { what: `the proxy to listen on 127.0.0.1:${port}`, timeoutMs: 20_000 });
});

after(async () => {
  if (proxy?.exitCode === null) proxy.kill('SIGKILL');
  if (ns !== '') await apiRequest(admin, 'DELETE', `/api/v1/namespaces/${ns}`).catch(() => undefined);
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('apiaccess proxy in front of a real API server', () => {
  it('GIVEN a list the profile allows THEN it succeeds, sent as the ServiceAccount with the mounted token', async (t) => {
    const mark = await auditMark();
    const res = await fetch(url(`/api/v1/namespaces/${ns}/configmaps`), { headers: { Authorization: 'Bearer not-a-token' } });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { kind: string }).kind, 'ConfigMapList');
    const [event] = await waitFor(async () => {
      const events = (await saEvents(mark)).filter((e) => e.objectRef?.resource === 'configmaps' && e.verb === 'list');
      return events.length > 0 && events;
    }, { what: 'the audit event of the list' });
    assert.deepEqual(event!.user.extra?.[CREDENTIAL_ID], [`JTI=${jtiOf(tokens[0]!)}`]);
    t.diagnostic(`proxy RSS after start and a few requests: ${rssMiB(proxy.pid!)} MiB`);
  });

  it('GIVEN a request the profile does not allow (though the Role does) THEN 403 with the Status and header, and it never reaches the API server', async () => {
    const mark = await auditMark();
    const res = await fetch(url(`/api/v1/namespaces/${ns}/secrets`));
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(res.headers.get(DENIED_HEADER), `verb=list; group=; resource=secrets; subresource=; namespace=${ns}; name=`);
    assert.deepEqual(await res.json(), {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `secrets is forbidden: User "system:serviceaccount:${ns}:${SA}" cannot list resource "secrets" in API group "" in the namespace "${ns}": not allowed by ApiAccessProfile ${ns}/${SA} (apiaccess proxy)`,
      reason: 'Forbidden',
      details: { kind: 'secrets' },
      code: 403,
    });
    // The audit log is written in order: once a later request is in it, an earlier one would be too.
    const later = await fetch(url(`/api/v1/namespaces/${ns}/configmaps?limit=1`));
    assert.equal(later.status, 200);
    const events = await waitFor(async () => {
      const all = await saEvents(mark);
      return all.some((e) => e.objectRef?.resource === 'configmaps') && all;
    }, { what: 'the audit event of the later list' });
    assert.deepEqual(events.filter((e) => e.objectRef?.resource === 'secrets'), []);
    assert.match(logs, /"level":40,.*"verb":"list".*"resource":"secrets".*"msg":"Refused a request the profile does not allow"/);
  });

  it('GIVEN a watch THEN a ConfigMap created after it started arrives as an event', async () => {
    const list = (await (await fetch(url(`/api/v1/namespaces/${ns}/configmaps`))).json()) as { metadata: { resourceVersion: string } };
    const abort = new AbortController();
    const res = await fetch(url(`/api/v1/namespaces/${ns}/configmaps?watch=true&resourceVersion=${list.metadata.resourceVersion}`), { signal: abort.signal });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    try {
      await apiJson(admin, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'after-watch' }, data: { a: '1' } });
      let text = '';
      const deadline = Date.now() + 15_000;
      while (!text.includes('"after-watch"') && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString();
      }
      const event = JSON.parse(text.split('\n').find((line) => line.includes('"after-watch"')) ?? '{}') as { type?: string; object?: { metadata?: { name?: string } } };
      assert.deepEqual([event.type, event.object?.metadata?.name], ['ADDED', 'after-watch']);
    } finally {
      abort.abort();
      await reader.cancel().catch(() => undefined);
    }
  });

  it('GIVEN the token file is replaced with a new token THEN the API server sees the new token within the 10 s check', { timeout: 60_000 }, async () => {
    const fresh = await requestToken();
    writeFileSync(join(dir, 'token.new'), `${fresh}\n`);
    renameSync(join(dir, 'token.new'), join(dir, 'token'));
    // A SelfSubjectReview (always allowed) answers with the credential the API server authenticated.
    const seen = await waitFor(async () => {
      const res = await fetch(url('/apis/authentication.k8s.io/v1/selfsubjectreviews'), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }),
      });
      const review = (await res.json()) as { status?: { userInfo?: { username?: string; extra?: Record<string, string[]> } } };
      const id = review.status?.userInfo?.extra?.[CREDENTIAL_ID]?.[0];
      return id === `JTI=${jtiOf(fresh)}` && review.status?.userInfo?.username;
    }, { what: 'a request with the new token', timeoutMs: 25_000, intervalMs: 1_000 });
    assert.equal(seen, `system:serviceaccount:${ns}:${SA}`);
    assert.ok(!tokens.some((token) => logs.includes(token)), 'no token is ever logged');
  });

  it('GIVEN SIGTERM THEN the proxy exits 0, and the probe exits 1 once it no longer listens', async () => {
    assert.equal(probe(), 0);
    const exited = once(proxy, 'exit');
    proxy.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0, logs);
    assert.equal(probe(), 1);
    assert.match(logs, /"msg":"Stopped"/);
  });

  it('GIVEN a missing rules file THEN the proxy exits 1 naming the file', () => {
    const missing = join(dir, 'no-rules.json');
    const out = spawnSync(process.execPath, proxyArgs({ rules: missing }), { encoding: 'utf8', timeout: 20_000 });
    assert.equal(out.status, 1);
    assert.equal(out.stderr, `apiaccess: proxy: rules file ${missing}: cannot be read (ENOENT)\n`);
  });

  it('GIVEN an invalid rules file THEN the proxy exits 1 naming the file and the field', () => {
    const invalid = join(dir, 'invalid-rules.json');
    writeFileSync(invalid, JSON.stringify({ version: 1, profile: `${ns}/${SA}`, user: 'u', scope: 'Namespace', namespace: ns, rules: [{ apiGroups: [''], resources: ['pods'] }] }));
    const out = spawnSync(process.execPath, proxyArgs({ rules: invalid }), { encoding: 'utf8', timeout: 20_000 });
    assert.equal(out.status, 1);
    assert.match(out.stderr, new RegExp(`^apiaccess: proxy: rules file ${invalid}: field rules\\[0\\]\\.verbs: `));
  });

  it('GIVEN a plain http server URL THEN the proxy refuses to start (usage, exit 2)', () => {
    const out = spawnSync(process.execPath, proxyArgs({ server: testCluster().server.replace('https:', 'http:') }), { encoding: 'utf8', timeout: 20_000 });
    assert.equal(out.status, 2);
    assert.match(out.stderr, /is not https/);
  });
});

function rssMiB(pid: number): string {
  const kib = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN);
  return (kib / 1024).toFixed(1);
}
