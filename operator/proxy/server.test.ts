// The proxy server in-process against a fake HTTPS API server on 127.0.0.1: what reaches the
// "API server", what the application gets back, streaming, tunnels and failures. The same proxy
// against a real API server, as a separate process: proxy-process.test.ts.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { metricsCertificate } from '../server.ts';
import { captureLogger } from '../kube/test-support.ts';
import type { Rules } from './authorize.ts';
import { createProxyServer, safeWithoutBody, type ProxyServer } from './server.ts';
import { upstreamAgent } from './upstream-agent.ts';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const rules: Rules = {
  profile: 'team-a/agent',
  user: 'system:serviceaccount:team-a:agent',
  scope: 'Namespace',
  namespace: 'team-a',
  rules: [
    { apiGroups: [''], resources: ['pods', 'configmaps'], verbs: ['get', 'list', 'watch', 'create'] },
    { apiGroups: [''], resources: ['pods/exec'], verbs: ['create'] },
  ],
};

let upstream: HttpsServer;
let upstreamUrl: URL;
let ca: string;
const received: Received[] = [];
/** Watch responses the fake API server holds open, to write events into. */
const watches: Array<import('node:http').ServerResponse> = [];
const log = captureLogger('debug');
let proxy: ProxyServer;
let proxyPort: number;
let token = 'sa-token-1';

function port(server: { address(): AddressInfo | string | null }): number {
  return (server.address() as AddressInfo).port;
}

async function startProxy(target: URL, caPem: string): Promise<{ proxy: ProxyServer; port: number }> {
  const started = createProxyServer({ upstream: target, agent: upstreamAgent(() => caPem), token: () => token, rules: () => rules, log: log.logger });
  started.server.listen(0, '127.0.0.1');
  await once(started.server, 'listening');
  return { proxy: started, port: port(started.server) };
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

async function send(path: string, options: { method?: string; headers?: Record<string, string>; body?: string; to?: number } = {}): Promise<Reply> {
  const req = httpRequest({ host: '127.0.0.1', port: options.to ?? proxyPort, path, method: options.method ?? 'GET', headers: options.headers ?? {} });
  req.end(options.body);
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  let body = '';
  for await (const chunk of res) body += String(chunk);
  return { status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body };
}

before(async () => {
  const pems = await metricsCertificate(undefined, 'localhost');
  ca = pems.cert;
  upstream = createHttpsServer({ cert: pems.cert, key: pems.key }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (req.url?.includes('watch=true')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.flushHeaders();
        watches.push(res);
        return;
      }
      res.writeHead(201, [['Content-Type', 'application/json'], ['Warning', '299 - "first"'], ['Warning', '299 - "second"']]);
      res.end(JSON.stringify({ kind: 'ConfigMap', echo: body }));
    });
  });
  upstream.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: '' });
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n');
    socket.on('data', (data: Buffer) => socket.write(`echo:${data.toString()}`));
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  upstreamUrl = new URL(`https://127.0.0.1:${port(upstream)}`);
  ({ proxy, port: proxyPort } = await startProxy(upstreamUrl, ca));
});

after(async () => {
  for (const w of watches) w.destroy();
  await proxy.close(100);
  upstream.closeAllConnections();
  upstream.close();
});

beforeEach(() => {
  received.length = 0;
  log.records.length = 0;
});

describe('proxy server: forwarding', () => {
  it('GIVEN an allowed request THEN the API server gets the ServiceAccount token and neither the app\'s credentials nor impersonation', async () => {
    const reply = await send('/api/v1/namespaces/team-a/configmaps', {
      method: 'POST',
      headers: { Authorization: 'Bearer app-token', 'Impersonate-User': 'admin', 'Impersonate-Group': 'system:masters', 'Content-Type': 'application/json' },
      body: '{"metadata":{"name":"c"}}',
    });
    assert.equal(received.length, 1);
    const got = received[0]!;
    assert.deepEqual([got.method, got.url, got.headers.authorization, got.headers.host, got.body], ['POST', '/api/v1/namespaces/team-a/configmaps', 'Bearer sa-token-1', upstreamUrl.host, '{"metadata":{"name":"c"}}']);
    assert.deepEqual(Object.keys(got.headers).filter((h) => h.startsWith('impersonate-')), []);
    assert.equal(reply.status, 201);
    assert.deepEqual(JSON.parse(reply.body), { kind: 'ConfigMap', echo: '{"metadata":{"name":"c"}}' });
  });

  it('GIVEN the API server sends a header twice (Warning) THEN the application gets both', async () => {
    const reply = await send('/api/v1/namespaces/team-a/configmaps', { method: 'POST', body: '{}' });
    const warnings = reply.rawHeaders.filter((_, i, all) => i % 2 === 1 && all[i - 1]!.toLowerCase() === 'warning');
    assert.deepEqual(warnings, ['299 - "first"', '299 - "second"']);
  });

  it('GIVEN the token changes THEN the next request carries the new one', async () => {
    token = 'sa-token-2';
    try {
      await send('/api/v1/namespaces/team-a/pods');
      assert.equal(received[0]?.headers.authorization, 'Bearer sa-token-2');
    } finally {
      token = 'sa-token-1';
    }
  });
});

describe('proxy server: refusals', () => {
  it('GIVEN a request the profile does not allow THEN 403 with the Status and header, logged at warn, and the API server sees nothing', async () => {
    const reply = await send('/api/v1/namespaces/team-b/pods', { headers: { Authorization: 'Bearer secret-app-token' } });
    assert.equal(reply.status, 403);
    assert.equal(reply.headers['content-type'], 'application/json');
    assert.equal(reply.headers['x-apiaccess-proxy-denied'], 'verb=list; group=; resource=pods; subresource=; namespace=team-b; name=');
    const status = JSON.parse(reply.body) as { reason: string; code: number; message: string };
    assert.deepEqual([status.reason, status.code], ['Forbidden', 403]);
    assert.match(status.message, /cannot list resource "pods" in API group "" in the namespace "team-b": not allowed by ApiAccessProfile team-a\/agent/);
    assert.deepEqual(received, []);
    const warned = log.records.filter((r) => r.level === 40);
    assert.deepEqual(warned.map((r) => [r.msg, r.verb, r.resource, r.namespace]), [['Refused a request the profile does not allow', 'list', 'pods', 'team-b']]);
    assert.doesNotMatch(JSON.stringify(log.records), /secret-app-token|sa-token/);
  });

  it('GIVEN a path with a dot-dot segment THEN 400 and the API server sees nothing', async () => {
    const reply = await send('/api/v1/namespaces/team-a/../team-b/pods');
    assert.equal(reply.status, 400);
    assert.equal((JSON.parse(reply.body) as { reason: string }).reason, 'BadRequest');
    assert.deepEqual(received, []);
  });
});

describe('proxy server: streaming', () => {
  it('GIVEN a watch THEN its headers arrive at once and an event written later arrives while the response stays open', async () => {
    const req = httpRequest({ host: '127.0.0.1', port: proxyPort, path: '/api/v1/namespaces/team-a/pods?watch=true' });
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    assert.equal(res.statusCode, 200);
    const watch = watches.at(-1)!;
    const event = `${JSON.stringify({ type: 'ADDED', object: { kind: 'Pod' } })}\n`;
    const first = once(res, 'data');
    watch.write(event);
    const [chunk] = (await first) as [Buffer];
    assert.equal(chunk.toString(), event);
    assert.equal(watch.writableEnded, false);

    const upstreamClosed = once(watch, 'close');
    res.destroy();
    await upstreamClosed;
  });
});

describe('proxy server: upgrades', () => {
  async function upgrade(path: string): Promise<{ socket: Socket; head: string }> {
    const socket = connect({ host: '127.0.0.1', port: proxyPort });
    await once(socket, 'connect');
    socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nAuthorization: Bearer app\r\n\r\n`);
    let head = '';
    while (!head.includes('\r\n\r\n')) head += String((await once(socket, 'data'))[0]);
    return { socket, head };
  }

  it('GIVEN an allowed exec THEN 101 arrives and bytes cross the tunnel both ways, with the token sent upstream', async () => {
    const { socket, head } = await upgrade('/api/v1/namespaces/team-a/pods/web-1/exec?command=sh');
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.match(head, /\r\nUpgrade: SPDY\/3\.1\r\n/);
    socket.write('stdin-bytes');
    assert.equal(String((await once(socket, 'data'))[0]), 'echo:stdin-bytes');
    assert.equal(received[0]?.headers.authorization, 'Bearer sa-token-1');
    socket.destroy();
  });

  it('GIVEN an exec in another namespace THEN 403 on the raw connection and the API server sees nothing', async () => {
    const { socket, head } = await upgrade('/api/v1/namespaces/team-b/pods/web-1/exec?command=sh');
    assert.match(head, /^HTTP\/1\.1 403 Forbidden\r\n/);
    assert.match(head, /\r\nX-Apiaccess-Proxy-Denied: verb=create; group=; resource=pods; subresource=exec; namespace=team-b; name=web-1\r\n/);
    socket.destroy();
    assert.deepEqual(received, []);
  });
});

describe('proxy server: an unreachable or unverified API server', () => {
  it('GIVEN nothing listens at the server THEN 503 ServiceUnavailable naming the server', async () => {
    const closed = createHttpsServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const deadUrl = new URL(`https://127.0.0.1:${port(closed)}`);
    closed.close();
    const dead = await startProxy(deadUrl, ca);
    try {
      const reply = await send('/api/v1/namespaces/team-a/pods', { to: dead.port });
      assert.equal(reply.status, 503);
      const status = JSON.parse(reply.body) as { reason: string; message: string };
      assert.equal(status.reason, 'ServiceUnavailable');
      assert.match(status.message, new RegExp(`the API server ${deadUrl.origin} is unreachable: .*ECONNREFUSED`));
    } finally {
      await dead.proxy.close(100);
    }
  });

  it('GIVEN a CA that does not sign the server\'s certificate THEN 503 and the request (with its token) is never sent', async () => {
    const other = await metricsCertificate(undefined, 'localhost');
    const wrong = await startProxy(upstreamUrl, other.cert);
    try {
      const reply = await send('/api/v1/namespaces/team-a/pods', { to: wrong.port });
      assert.equal(reply.status, 503);
      assert.match((JSON.parse(reply.body) as { message: string }).message, /certificate/);
      assert.deepEqual(received, []);
    } finally {
      await wrong.proxy.close(100);
    }
  });
});

describe('proxy server: shutdown', () => {
  it('GIVEN a watch in flight THEN close() cuts it after the grace period and resolves', async () => {
    const own = await startProxy(upstreamUrl, ca);
    const req = httpRequest({ host: '127.0.0.1', port: own.port, path: '/api/v1/namespaces/team-a/configmaps?watch=true' });
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    const cut = new Promise((resolve) => res.on('error', () => undefined).on('close', resolve));
    const started = Date.now();
    await own.proxy.close(200);
    await cut;
    assert.ok(Date.now() - started >= 150, 'the watch had its grace period');
  });
});

describe('proxy server: a keep-alive connection the API server closes as it is reused', () => {
  // A fake API server that answers the first request of each connection and drops the connection on
  // the second, unanswered: what a server's idle timeout does when it races a reuse.
  let dropping: HttpsServer;
  let droppingUrl: URL;
  let droppingCa: string;
  /** The requests it saw, by connection (numbered from 1 in each test). */
  const seen: Array<{ method: string; connection: number }> = [];
  let connections = 0;
  before(async () => {
    const pems = await metricsCertificate(undefined, 'localhost');
    dropping = createHttpsServer({ cert: pems.cert, key: pems.key });
    dropping.on('secureConnection', (socket: Socket & { id?: number }) => (socket.id = ++connections));
    dropping.on('request', (req: IncomingMessage, res: import('node:http').ServerResponse) => {
      const socket = req.socket as Socket & { id?: number; answered?: boolean };
      seen.push({ method: req.method ?? '', connection: socket.id ?? 0 });
      if (socket.answered === true) {
        socket.destroy();
        return;
      }
      socket.answered = true;
      req.resume();
      req.on('end', () => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"kind":"PodList"}'));
    });
    dropping.listen(0, '127.0.0.1');
    await once(dropping, 'listening');
    droppingUrl = new URL(`https://127.0.0.1:${port(dropping)}`);
    droppingCa = pems.cert;
  });
  after(() => {
    dropping.closeAllConnections();
    dropping.close();
  });
  beforeEach(() => {
    seen.length = 0;
    connections = 0;
  });

  it('GIVEN a GET on a connection the server just closed THEN it is sent once more on a new connection and succeeds', async () => {
    const own = await startProxy(droppingUrl, droppingCa);
    try {
      assert.equal((await send('/api/v1/namespaces/team-a/pods', { to: own.port })).status, 200);
      const reply = await send('/api/v1/namespaces/team-a/pods', { to: own.port });
      assert.deepEqual([reply.status, reply.body], [200, '{"kind":"PodList"}']);
      assert.deepEqual(seen, [{ method: 'GET', connection: 1 }, { method: 'GET', connection: 1 }, { method: 'GET', connection: 2 }]);
    } finally {
      await own.proxy.close(100);
    }
  });

  it('GIVEN a POST on such a connection THEN it is not sent again: 503 ServiceUnavailable, and the server saw it once', async () => {
    const own = await startProxy(droppingUrl, droppingCa);
    try {
      const create = { method: 'POST', body: '{"metadata":{"name":"c"}}', headers: { 'Content-Type': 'application/json' } };
      assert.equal((await send('/api/v1/namespaces/team-a/configmaps', { ...create, to: own.port })).status, 200);
      const reply = await send('/api/v1/namespaces/team-a/configmaps', { ...create, to: own.port });
      assert.equal(reply.status, 503);
      assert.match((JSON.parse(reply.body) as { message: string }).message, /is unreachable: socket hang up/);
      assert.deepEqual(seen.map((r) => r.connection), [1, 1], 'the POST was never replayed');
    } finally {
      await own.proxy.close(100);
    }
  });

  it('replays only GET, HEAD and OPTIONS without a body', () => {
    assert.equal(safeWithoutBody({ method: 'GET', headers: {} }), true);
    assert.equal(safeWithoutBody({ method: 'HEAD', headers: { 'content-length': '0' } }), true);
    assert.equal(safeWithoutBody({ method: 'GET', headers: { 'content-length': '12' } }), false);
    assert.equal(safeWithoutBody({ method: 'GET', headers: { 'transfer-encoding': 'chunked' } }), false);
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) assert.equal(safeWithoutBody({ method, headers: {} }), false, method);
  });
});
