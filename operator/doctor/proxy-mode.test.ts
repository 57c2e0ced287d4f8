// doctor in Proxy mode without a cluster: recognising the sidecar, reading its refusals, planning the
// real request of --can, and the whole chain against a FAKE proxy. The fake (below) is a small HTTP
// server on 127.0.0.1 that answers as /work/proxy-contract.md says the sidecar does (403 + Status +
// X-Apiaccess-Proxy-Denied, 503 when the API server is unreachable, discovery and self-reviews always
// through); it stands in only for the doctor's parsing and decisions here, never for the real proxy
// (test/doctor.test.ts runs doctor against the real sidecar in a real Pod).
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { parseAccessQueries, type AccessQuery } from './can.ts';
import { GET_PROBE_NAME, planProbe, probeSkipReason } from './can-probe.ts';
import { runDoctor, type DoctorReport } from './doctor.ts';
import { classifyRefusal, parseDeniedHeader, refusingProfile, ruleFor, scopeNote, upstreamUnreachable } from './proxy-refusal.ts';
import { bypassedProxy, detectProxyRoute, isLoopback } from './proxy-route.ts';

const dir = mkdtempSync(join(tmpdir(), 'apiaccess-doctor-proxy-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const NS = 'team-a';
const PROFILE = `${NS}/reader`;
const USER = `system:serviceaccount:${NS}:reader`;
const UPSTREAM = 'https://10.96.0.1:443';

describe('recognising the proxy', () => {
  const http = (server: string): { server: string; host: string; https: boolean } => {
    const url = new URL(server);
    return { server, host: url.hostname, https: url.protocol === 'https:' };
  };

  it('GIVEN plain HTTP on loopback THEN it is the proxy, and KUBERNETES_API_PROXY says whether the operator injected it', () => {
    assert.deepEqual(detectProxyRoute(http('http://127.0.0.1:8001'), { KUBERNETES_API_PROXY: 'http://127.0.0.1:8001' }), { url: 'http://127.0.0.1:8001', envMatches: true, loopback: true });
    assert.deepEqual(detectProxyRoute(http('http://localhost:8001'), {}), { url: 'http://localhost:8001', envMatches: false, loopback: true });
    assert.deepEqual(detectProxyRoute(http('http://[::1]:9000'), {}), { url: 'http://[::1]:9000', envMatches: false, loopback: true });
  });

  it('GIVEN HTTPS, or plain HTTP elsewhere that KUBERNETES_API_PROXY does not name THEN it is not the proxy', () => {
    assert.equal(detectProxyRoute(http('https://127.0.0.1:6443'), { KUBERNETES_API_PROXY: 'https://127.0.0.1:6443' }), undefined);
    assert.equal(detectProxyRoute(http('http://10.0.0.5:8080'), { KUBERNETES_API_PROXY: 'http://127.0.0.1:8001' }), undefined);
    assert.deepEqual(detectProxyRoute(http('http://proxy.local:8001'), { KUBERNETES_API_PROXY: 'http://proxy.local:8001/' }), { url: 'http://proxy.local:8001', envMatches: true, loopback: false });
    assert.equal(isLoopback('127.1.2.3'), true);
    assert.equal(isLoopback('128.0.0.1'), false);
  });

  it('GIVEN KUBERNETES_API_PROXY and a configuration going elsewhere THEN the bypass is named', () => {
    assert.equal(bypassedProxy({ server: 'https://kubernetes.default.svc' }, { KUBERNETES_API_PROXY: 'http://127.0.0.1:8001' }), 'http://127.0.0.1:8001');
    assert.equal(bypassedProxy({ server: 'http://127.0.0.1:8001' }, { KUBERNETES_API_PROXY: 'http://127.0.0.1:8001' }), undefined);
    assert.equal(bypassedProxy({ server: 'https://x' }, {}), undefined);
  });
});

describe('reading the proxy\'s answers', () => {
  const refusalBody = (message: string): string => JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Forbidden', code: 403, message });
  const proxyMessage = `secrets is forbidden: User "${USER}" cannot list resource "secrets" in API group "" in the namespace "${NS}": not allowed by ApiAccessProfile ${PROFILE} (apiaccess proxy)`;

  it('GIVEN the denied header THEN each attribute is read, empty ones as ""', () => {
    assert.deepEqual(parseDeniedHeader('verb=list; group=; resource=pods; subresource=; namespace=x; name='), { verb: 'list', group: '', resource: 'pods', subresource: '', namespace: 'x', name: '' });
    assert.deepEqual(parseDeniedHeader('verb=get; group=apps; resource=deployments; subresource=scale; namespace=ns; name=web'), { verb: 'get', group: 'apps', resource: 'deployments', subresource: 'scale', namespace: 'ns', name: 'web' });
    assert.equal(parseDeniedHeader(undefined), undefined);
    assert.equal(parseDeniedHeader('garbage'), undefined);
  });

  it('GIVEN a 403 with the header THEN the proxy refused, naming the profile; without header or suffix THEN the API server did', () => {
    const byProxy = classifyRefusal({ status: 403, headers: { 'x-apiaccess-proxy-denied': `verb=list; group=; resource=secrets; subresource=; namespace=${NS}; name=` }, body: refusalBody(proxyMessage) });
    const bySuffixOnly = classifyRefusal({ status: 403, headers: {}, body: refusalBody(proxyMessage) });
    const byServer = classifyRefusal({ status: 403, headers: {}, body: refusalBody('secrets is forbidden: User "x" cannot list resource "secrets"') });

    assert.equal(byProxy?.by, 'proxy');
    assert.equal(byProxy?.by === 'proxy' ? byProxy.profile : '', PROFILE);
    assert.equal(byProxy?.by === 'proxy' ? byProxy.attributes?.resource : '', 'secrets');
    assert.equal(bySuffixOnly?.by, 'proxy');
    assert.equal(byServer?.by, 'server');
    assert.equal(classifyRefusal({ status: 200, headers: {}, body: '' }), undefined);
    assert.equal(refusingProfile('nothing to see'), undefined);
  });

  it('GIVEN a 503 Status THEN its message (naming the server) is the finding', () => {
    const body = JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'ServiceUnavailable', code: 503, message: `cannot reach the API server ${UPSTREAM}: connect ECONNREFUSED` });
    assert.equal(upstreamUnreachable({ status: 503, headers: {}, body }), `cannot reach the API server ${UPSTREAM}: connect ECONNREFUSED`);
    assert.equal(upstreamUnreachable({ status: 500, headers: {}, body }), undefined);
  });

  it('GIVEN missing attributes THEN the rule to add is in the profile\'s flow style, with a scope note when a rule alone cannot do', () => {
    assert.equal(ruleFor({ verb: 'get', group: 'apps', resource: 'deployments', subresource: 'scale' }), '{apiGroups: ["apps"], resources: ["deployments/scale"], verbs: ["get"]}');
    assert.equal(scopeNote({ namespace: NS }, PROFILE), '');
    assert.match(scopeNote({ namespace: '' }, PROFILE), /cluster-scoped .*spec\.permissions\.scope: Cluster/);
    assert.match(scopeNote({ namespace: 'other' }, PROFILE), /namespace other, not the profile's team-a/);
  });
});

describe('planning the real request of --can', () => {
  const query = (verb: string, target: string): AccessQuery => {
    const parsed = parseAccessQueries([verb, target]);
    assert.ok(parsed.ok);
    return parsed.queries[0]!;
  };
  const pods = { basePath: '/api/v1', namespaced: true };

  it('GIVEN list, watch, get THEN list with limit=1, a watch cut after its headers, a get of a name that cannot exist', () => {
    assert.deepEqual(planProbe(query('list', 'pods'), pods, NS), { tried: true, path: `/api/v1/namespaces/${NS}/pods`, query: { limit: '1' }, headersOnly: false, authorizedOn404: false });
    assert.deepEqual(planProbe(query('watch', 'nodes'), { basePath: '/api/v1', namespaced: false }, NS), { tried: true, path: '/api/v1/nodes', query: { watch: 'true', timeoutSeconds: '1' }, headersOnly: true, authorizedOn404: false });
    assert.deepEqual(planProbe(query('get', 'pods/log'), pods, NS), { tried: true, path: `/api/v1/namespaces/${NS}/pods/${GET_PROBE_NAME}/log`, query: {}, headersOnly: false, authorizedOn404: true });
  });

  it('GIVEN a write verb, "*" or a listed subresource THEN nothing is sent, with the reason', () => {
    assert.match(probeSkipReason(query('delete', 'pods')) ?? '', /only read requests .*never delete/);
    assert.match(probeSkipReason(query('list', '*')) ?? '', /not one resource/);
    assert.match(probeSkipReason(query('list', 'pods/log')) ?? '', /cannot be listed/);
  });
});

// ---- the fake proxy (see the header comment: parsing and decisions only) ----

interface FakeProxy {
  readonly url: string;
  /** 'up': forwards to a pretend API server; 'upstream-down': 503 for everything forwarded. */
  mode: 'up' | 'upstream-down';
  close(): Promise<void>;
}

/** The profile's rules as the fake enforces them: get/list/watch pods and list deployments.apps in team-a. */
const PROFILE_ALLOWS = (verb: string, group: string, resource: string, namespace: string): boolean =>
  namespace === NS && ((group === '' && resource === 'pods' && ['get', 'list', 'watch'].includes(verb)) || (group === 'apps' && resource === 'deployments' && verb === 'list'));
/** RBAC as the pretend API server has it: the profile's rules minus deployments (not reconciled yet), plus list secrets from another binding. */
const RBAC_ALLOWS = (verb: string, group: string, resource: string, namespace: string): boolean =>
  namespace === NS && ((group === '' && resource === 'pods' && ['get', 'list', 'watch'].includes(verb)) || (group === '' && resource === 'secrets' && verb === 'list'));

const DISCOVERY: Record<string, object> = {
  '/api/v1': { resources: [{ name: 'pods', namespaced: true }, { name: 'pods/log', namespaced: true }, { name: 'secrets', namespaced: true }, { name: 'nodes', namespaced: false }] },
  '/apis/apps': { preferredVersion: { groupVersion: 'apps/v1' }, versions: [{ groupVersion: 'apps/v1' }] },
  '/apis/apps/v1': { resources: [{ name: 'deployments', namespaced: true }] },
};

async function startFakeProxy(): Promise<FakeProxy> {
  const fake = { mode: 'up' as FakeProxy['mode'] };
  const server: Server = createServer((request, response) => void answer(fake.mode, request, response));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  return Object.assign(fake, {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  });
}

async function answer(mode: FakeProxy['mode'], request: IncomingMessage, response: ServerResponse): Promise<void> {
  let body = '';
  for await (const chunk of request) body += String(chunk);
  const url = new URL(request.url ?? '/', 'http://fake');
  const send = (status: number, object: object, headers: Record<string, string> = {}): void => {
    response.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(object));
  };
  const status = (code: number, reason: string, message: string): object => ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason, code, message });
  if (mode === 'upstream-down') return send(503, status(503, 'ServiceUnavailable', `the API server ${UPSTREAM} cannot be reached: connect ECONNREFUSED 10.96.0.1:443`));
  if (url.pathname === '/version') return send(200, { major: '1', minor: '37', gitVersion: 'v1.37.2', platform: 'linux/amd64' });
  const known = DISCOVERY[url.pathname];
  if (known !== undefined) return send(200, known);
  if (request.method === 'POST' && url.pathname.endsWith('/selfsubjectreviews')) return send(201, { status: { userInfo: { username: USER, groups: ['system:serviceaccounts', `system:serviceaccounts:${NS}`, 'system:authenticated'] } } });
  if (request.method === 'POST' && url.pathname.endsWith('/selfsubjectrulesreviews')) {
    return send(201, { status: { resourceRules: [{ verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['pods'] }], nonResourceRules: [], incomplete: false } });
  }
  if (request.method === 'POST' && url.pathname.endsWith('/selfsubjectaccessreviews')) {
    const a = (JSON.parse(body) as { spec: { resourceAttributes: { verb: string; group: string; resource: string; namespace: string } } }).spec.resourceAttributes;
    const allowed = RBAC_ALLOWS(a.verb, a.group, a.resource, a.namespace);
    return send(201, { status: { allowed, ...(allowed ? { reason: `RBAC: allowed by RoleBinding "reader/${NS}"` } : {}) } });
  }
  // /api/v1[/namespaces/<ns>]/<resource>[/<name>[/<sub>]] and /apis/<g>/<v>/...
  const parts = url.pathname.split('/').filter((p) => p !== '');
  const [group, rest] = parts[0] === 'api' ? ['', parts.slice(2)] : [parts[1] ?? '', parts.slice(3)];
  const namespace = rest[0] === 'namespaces' ? (rest[1] ?? '') : '';
  const [resource = '', name = '', subresource = ''] = rest[0] === 'namespaces' ? rest.slice(2) : rest;
  const verb = url.searchParams.get('watch') === 'true' ? 'watch' : name === '' ? 'list' : 'get';
  if (!PROFILE_ALLOWS(verb, group, resource, namespace)) {
    const where = namespace ? ` in the namespace "${namespace}"` : '';
    return send(
      403,
      status(403, 'Forbidden', `${resource} is forbidden: User "${USER}" cannot ${verb} resource "${resource}" in API group "${group}"${where}: not allowed by ApiAccessProfile ${PROFILE} (apiaccess proxy)`),
      { 'X-Apiaccess-Proxy-Denied': `verb=${verb}; group=${group}; resource=${resource}; subresource=${subresource}; namespace=${namespace}; name=${name}` },
    );
  }
  // Forwarded: the pretend API server applies RBAC.
  if (!RBAC_ALLOWS(verb, group, resource, namespace)) return send(403, status(403, 'Forbidden', `${resource}.${group} is forbidden: User "${USER}" cannot ${verb} resource "${resource}" in API group "${group}" in the namespace "${namespace}"`));
  if (verb === 'watch') {
    // A watch streams: the doctor must not wait for its end.
    response.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    response.write('');
    return;
  }
  if (verb === 'get') return send(404, status(404, 'NotFound', `${resource} "${name}" not found`));
  return send(200, { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [] });
}

describe('the chain through a fake proxy sidecar', () => {
  let proxy: FakeProxy;
  before(async () => (proxy = await startFakeProxy()));
  after(async () => await proxy.close());

  /** The app container's view: the generated kubeconfig (server = proxy, empty user) and KUBERNETES_API_PROXY. */
  async function doctorInAppContainer(can: string[], server?: string): Promise<DoctorReport> {
    const file = join(dir, `kubeconfig-${Math.random().toString(36).slice(2)}`);
    writeFileSync(
      file,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'default', cluster: { server: server ?? proxy.url } }],
        users: [{ name: 'reader', user: {} }],
        contexts: [{ name: 'default', context: { cluster: 'default', user: 'reader', namespace: NS } }],
        'current-context': 'default',
      }),
    );
    const queries = parseAccessQueries(can);
    assert.ok(queries.ok);
    return await runDoctor({
      can: queries.queries,
      environment: { env: { KUBECONFIG: file, KUBERNETES_API_PROXY: server ?? proxy.url, HOSTNAME: 'web-1' }, home: dir, inClusterRoot: join(dir, 'none') },
      now: () => new Date(),
      connectTimeoutMs: 1000,
      requestTimeoutMs: 2000,
    });
  }

  const check = (report: DoctorReport, name: string): DoctorReport['checks'][number] => {
    const found = report.checks.find((c) => c.name === name);
    assert.ok(found, `no check ${name}: ${report.checks.map((c) => c.name).join(', ')}`);
    return found;
  };
  const explain = (report: DoctorReport): string => report.checks.map((c) => `${c.name} ${c.verdict}: ${c.summary}${c.remedy ? ` | fix: ${c.remedy}` : ''}`).join('\n');

  it('GIVEN an allowed --can THEN every check passes or is not applicable, the sidecar holds the token and the CA, and the real requests went through', async () => {
    proxy.mode = 'up';
    const report = await doctorInAppContainer(['list', 'pods', 'get', 'pods', 'watch', 'pods']);

    assert.equal(report.ok, true, explain(report));
    assert.equal(report.proxy, proxy.url);
    assert.match(check(report, 'config-source').summary, /server http:\/\/127\.0\.0\.1:\d+; that is the apiaccess proxy sidecar \(KUBERNETES_API_PROXY matches\), which holds the ServiceAccount token and the CA/);
    for (const name of ['token-file', 'token-claims', 'ca-certificate', 'tls-handshake']) assert.equal(check(report, name).verdict, 'skip', explain(report));
    assert.match(check(report, 'token-file').summary, /the proxy sidecar holds the token and the CA/);
    assert.match(check(report, 'tls-handshake').summary, /never leaves the Pod/);
    assert.equal(check(report, 'api-version').verdict, 'pass');
    assert.match(check(report, 'identity').summary, new RegExp(`^${USER} .*authenticated by the proxy sidecar's ServiceAccount token`));
    assert.match(check(report, 'can-list-pods').summary, /^allowed: .*GET \/api\/v1\/namespaces\/team-a\/pods\?limit=1 through the proxy answered 200/);
    assert.match(check(report, 'can-get-pods').summary, /answered 404 \(no such object: the request was authorized\)/);
    assert.equal(check(report, 'can-watch-pods').verdict, 'pass', explain(report));
  });

  it('GIVEN a --can the profile does not allow THEN it fails as refused by the proxy, naming the rule to add, even where RBAC alone allows it', async () => {
    proxy.mode = 'up';
    const report = await doctorInAppContainer(['list', 'secrets', 'watch', 'nodes']);
    const secrets = check(report, 'can-list-secrets');
    const nodes = check(report, 'can-watch-nodes');

    assert.equal(report.ok, false);
    assert.equal(secrets.verdict, 'fail');
    assert.match(secrets.summary, new RegExp(`^refused by the proxy sidecar: list secrets in namespace ${NS} is not in the permissions of ApiAccessProfile ${PROFILE} \\(RBAC alone would allow it`));
    assert.equal(secrets.remedy, `add to ApiAccessProfile ${PROFILE}'s spec.permissions.rules: {apiGroups: [""], resources: ["secrets"], verbs: ["list"]}`);
    assert.deepEqual(secrets.details?.missing, { verb: 'list', group: '', resource: 'secrets', subresource: '', namespace: NS, name: undefined });
    assert.match(nodes.summary, /watch nodes cluster-wide is not in the permissions/);
    assert.match(nodes.remedy ?? '', /resources: \["nodes"\], verbs: \["watch"\]\}; the request is cluster-scoped .*scope: Cluster/);
  });

  it('GIVEN the proxy forwards but the API server refuses THEN the API server is named, not the proxy', async () => {
    proxy.mode = 'up';
    const report = await doctorInAppContainer(['list', 'deployments.apps']);
    const deployments = check(report, 'can-list-deployments.apps');

    assert.equal(deployments.verdict, 'fail');
    assert.match(deployments.summary, /the proxy let GET \/apis\/apps\/v1\/namespaces\/team-a\/deployments\?limit=1 through, but the API server refused it \(403 Forbidden\)/);
    assert.match(deployments.remedy ?? '', /RBACReady/);
  });

  it('GIVEN a write verb RBAC denies THEN the RBAC denial stands and nothing is sent through the proxy', async () => {
    proxy.mode = 'up';
    const report = await doctorInAppContainer(['delete', 'pods']);
    const del = check(report, 'can-delete-pods');

    assert.equal(del.verdict, 'fail');
    assert.match(del.summary, /^denied: .* may not delete pods in namespace team-a: .*; not tried through the proxy: doctor sends only read requests/);
    assert.match(del.remedy ?? '', /spec\.permissions\.rules: \{apiGroups: \[""\], resources: \["pods"\], verbs: \["delete"\]\}/);
  });

  it('GIVEN the proxy cannot reach the API server THEN api-version fails with its 503 message, naming the server', async () => {
    proxy.mode = 'upstream-down';
    const report = await doctorInAppContainer([]);
    proxy.mode = 'up';
    const version = check(report, 'api-version');

    assert.equal(version.verdict, 'fail', explain(report));
    assert.match(version.summary, new RegExp(`the proxy sidecar answers but cannot reach the API server \\(HTTP 503\\): the API server ${UPSTREAM} cannot be reached`));
    assert.match(version.remedy ?? '', /kubectl logs web-1 -n team-a -c apiaccess-proxy/);
    assert.equal(check(report, 'identity').verdict, 'skip');
  });

  it('GIVEN KUBERNETES_API_PROXY but a kubeconfig straight to the API server THEN config-source warns that the proxy is bypassed', async () => {
    const file = join(dir, 'direct.kubeconfig');
    writeFileSync(file, stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster: { server: UPSTREAM } }], users: [{ name: 'u', user: {} }], contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }], 'current-context': 'c' }));

    const report = await runDoctor({ can: [], environment: { env: { KUBECONFIG: file, KUBERNETES_API_PROXY: proxy.url }, home: dir, inClusterRoot: join(dir, 'none') }, now: () => new Date(), connectTimeoutMs: 200, requestTimeoutMs: 200 });
    const source = check(report, 'config-source');

    assert.equal(source.verdict, 'warn');
    assert.match(source.summary, new RegExp(`but KUBERNETES_API_PROXY=${proxy.url} is set .*this configuration does not use it`));
    assert.equal(report.proxy, null);
  });

  it('GIVEN nothing listens on the proxy port THEN tcp-connect names the sidecar and its logs', async () => {
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((done) => closed.close(() => done()));

    const report = await doctorInAppContainer([], `http://127.0.0.1:${port}`);
    const tcp = check(report, 'tcp-connect');

    assert.equal(tcp.verdict, 'fail');
    assert.match(tcp.summary, /cannot connect to the apiaccess proxy sidecar at .*ECONNREFUSED/);
    assert.match(tcp.remedy ?? '', /apiaccess-proxy sidecar is not running, or listens on another port: `kubectl logs web-1 -n team-a -c apiaccess-proxy`/);
  });
});
