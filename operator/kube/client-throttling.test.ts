// KubeClient under an API server that throttles: Retry-After on 429 and 5xx, and its own rate limit.
// Against a local HTTP server that scripts the answers, so the faults are exact and no cluster runs.
// Timing assertions are lower bounds only: a loaded machine makes things slower, never faster.
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { ApiError, KubeClient, retryAfterMs, type KubeClientOptions, type RequestInfo } from './client.ts';

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Keep the response open after the body (a watch). */
  hold?: boolean;
}

/** Answers requests in order from `script`; once it is used up, 200 `{}`. Records each request's time. */
class ScriptedServer {
  readonly arrivals: Array<{ path: string; at: number }> = [];
  private script: Answer[] = [];
  private readonly held: http.ServerResponse[] = [];
  private readonly server = http.createServer((req, res) => this.answer(req, res));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  play(...answers: Answer[]): void {
    this.script = answers;
    this.arrivals.length = 0;
  }

  async stop(): Promise<void> {
    for (const res of this.held) res.end();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.arrivals.push({ path: req.url ?? '', at: performance.now() });
    const answer = this.script.shift() ?? { status: 200, body: {} };
    res.writeHead(answer.status, { 'Content-Type': 'application/json', ...answer.headers });
    const body = answer.body ?? (answer.status < 300 ? {} : { kind: 'Status', code: answer.status, message: `scripted ${answer.status}` });
    if (answer.hold) {
      res.write(`${JSON.stringify(body)}\n`);
      this.held.push(res);
      return;
    }
    res.end(JSON.stringify(body));
  }
}

function clientFor(server: string, opts: KubeClientOptions = {}): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    // Plain HTTP: client-node refuses it unless verification is off, and there is no TLS to verify.
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return KubeClient.fromKubeConfig(kc, opts);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected the request to fail');
}

const tooMany = (retryAfter?: string): Answer => ({ status: 429, headers: retryAfter === undefined ? {} : { 'Retry-After': retryAfter } });

describe('KubeClient under throttling', () => {
  const api = new ScriptedServer();
  let server: string;
  const clients: KubeClient[] = [];
  /** A client for the scripted server, closed after the test. */
  const connect = (opts: KubeClientOptions = {}): KubeClient => {
    const client = clientFor(server, opts);
    clients.push(client);
    return client;
  };
  const stoppers: AbortController[] = [];
  /** Ends the test's watches after it. */
  const watchStopper = (): AbortController => {
    const stop = new AbortController();
    stoppers.push(stop);
    return stop;
  };
  before(async () => (server = await api.start()));
  afterEach(() => {
    for (const stop of stoppers.splice(0)) stop.abort();
    for (const client of clients.splice(0)) client.close();
  });
  after(async () => await api.stop());

  it('GIVEN 429 with Retry-After: 1 THEN the same request is sent again after about a second and succeeds', async () => {
    const attempts: RequestInfo[] = [];
    const client = connect({ onRequest: (info) => attempts.push(info) });
    api.play(tooMany('1'), { status: 200, body: { kind: 'ConfigMap', metadata: { name: 'a' } } });
    const result = await client.request<{ kind: string }>('PATCH', '/api/v1/namespaces/n/configmaps/a', { body: { data: {} } });
    assert.equal(result.kind, 'ConfigMap');
    assert.deepEqual(attempts.map((a) => [a.verb, a.status]), [['PATCH', 429], ['PATCH', 200]]);
    const [first, second] = api.arrivals;
    assert.ok(second!.at - first!.at >= 900, `retried after ${Math.round(second!.at - first!.at)} ms, before the server's 1 s`);
  });

  it('GIVEN 429 without Retry-After THEN it waits the default second and retries', async () => {
    const client = connect();
    api.play(tooMany());
    await client.request('GET', '/api/v1/namespaces');
    assert.equal(api.arrivals.length, 2);
    assert.ok(api.arrivals[1]!.at - api.arrivals[0]!.at >= 900);
  });

  it('GIVEN a server that keeps answering 429 THEN it gives up after 5 attempts with the last delay the server asked for', async () => {
    const client = connect();
    api.play(tooMany('0'), tooMany('0'), tooMany('0'), tooMany('0'), tooMany('2'), { status: 200 });
    const error = await rejection(client.request('GET', '/api/v1/pods'));
    assert.ok(error instanceof ApiError);
    assert.deepEqual([error.status, error.reason, error.retryAfterMs, retryAfterMs(error)], [429, 'TooManyRequests', 2000, 2000]);
    assert.equal(api.arrivals.length, 5);
  });

  it('GIVEN a 5xx THEN it is retried only when it carries Retry-After (client-go\'s checkWait)', async () => {
    const client = connect();
    api.play({ status: 503, headers: { 'Retry-After': '0' } }, { status: 200 });
    await client.request('GET', '/api/v1/pods');
    assert.equal(api.arrivals.length, 2);

    api.play({ status: 500 }, { status: 200 });
    const error = await rejection(client.request('GET', '/api/v1/pods'));
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 500);
    assert.equal(retryAfterMs(error), undefined);
    assert.equal(api.arrivals.length, 1);
  });

  it('GIVEN a server asking for an hour THEN the error says 60 s, the most a caller is asked to wait', async () => {
    const client = connect();
    api.play(tooMany('0'), tooMany('0'), tooMany('0'), tooMany('0'), tooMany('3600'));
    assert.equal(retryAfterMs(await rejection(client.request('GET', '/api/v1/pods'))), 60_000);

    api.play({ status: 403, body: { kind: 'Status', code: 403, reason: 'Forbidden', details: { retryAfterSeconds: 3600 } } });
    assert.equal(retryAfterMs(await rejection(client.request('GET', '/api/v1/pods'))), 60_000, 'from the Status\' details.retryAfterSeconds');
    assert.equal(retryAfterMs(new Error('not from the API')), undefined);
  });

  it('GIVEN a Retry-After longer than what is left of the request\'s timeout THEN it fails at once, saying how long to wait', async () => {
    const client = connect();
    api.play(tooMany('5'), { status: 200 });
    const error = await rejection(client.request('PUT', '/apis/coordination.k8s.io/v1/namespaces/n/leases/l', { body: {}, timeoutMs: 2000 }));
    assert.deepEqual([(error as ApiError).status, retryAfterMs(error)], [429, 5000]);
    assert.equal(api.arrivals.length, 1, 'not sent again after the timeout');
  });

  it('GIVEN a caller that stops during a Retry-After wait THEN the request ends with its reason and is not sent again', async () => {
    const client = connect();
    const abort = new AbortController();
    api.play(tooMany('20'));
    const pending = rejection(client.request('GET', '/api/v1/pods', { signal: abort.signal }));
    setTimeout(() => abort.abort(new Error('caller stopped')), 100);
    assert.match(String(await pending), /caller stopped/);
    assert.equal(api.arrivals.length, 1);
  });

  it('GIVEN 429 on the start of a watch THEN the watch is started again and streams', async () => {
    const client = connect();
    const stop = watchStopper();
    api.play(tooMany('0'), { status: 200, body: { type: 'ADDED', object: { metadata: { name: 'a' } } }, hold: true });
    for await (const event of client.watch<{ metadata: { name: string } }>('/api/v1/pods', {}, stop.signal)) {
      assert.deepEqual([event.type, event.object.metadata.name], ['ADDED', 'a']);
      break;
    }
    assert.equal(api.arrivals.length, 2);
  });

  it('GIVEN qps 20 and burst 10 WHEN 40 requests are sent at once THEN they take at least 1.5 s', async () => {
    const client = connect({ qps: 20, burst: 10 });
    api.play();
    const started = performance.now();
    await Promise.all(Array.from({ length: 40 }, async () => await client.request('GET', '/api/v1/pods')));
    const elapsed = performance.now() - started;
    assert.equal(api.arrivals.length, 40);
    // 10 at once, then 30 more at 20 per second: 1.5 s; a little slack for timer rounding.
    assert.ok(elapsed >= 1400, `40 requests took ${Math.round(elapsed)} ms`);
    // The last request cannot reach the server before its token, whenever the first ones arrived (a loaded
    // machine can delay the burst's connections, so the spread between first and last arrival is no bound).
    const last = Math.max(...api.arrivals.map((a) => a.at));
    assert.ok(last - started >= 1400, `the last request arrived ${Math.round(last - started)} ms after the start`);
  });

  it('GIVEN qps 2 and burst 1 THEN the start of a watch waits for a token, and the open watch holds none', async () => {
    const client = connect({ qps: 2, burst: 1 });
    const stop = watchStopper();
    api.play({ status: 200 }, { status: 200, body: { type: 'ADDED', object: { metadata: { name: 'a' } } }, hold: true });
    // Bounds from before the first request, which takes the one token: its own arrival may come late on a
    // loaded machine, and measuring from it would shrink the wait the limiter owes.
    const started = performance.now();
    await client.request('GET', '/api/v1/pods');
    const events = client.watch('/api/v1/pods', {}, stop.signal)[Symbol.asyncIterator]();
    await events.next();
    assert.ok(api.arrivals[1]!.at - started >= 400, 'the watch started without waiting for the limiter');
    // With the watch still open, requests still get tokens: the 2nd and 3rd after the watch's.
    await client.request('GET', '/api/v1/pods');
    await client.request('GET', '/api/v1/pods');
    assert.equal(api.arrivals.length, 4);
    assert.ok(api.arrivals[3]!.at - started >= 1400, 'two more requests at 2 per second');
  });

  it('GIVEN a fence that closes while a write waits for the limiter THEN the write is refused and never sent; reads still pass', async () => {
    let leader = true;
    const client = connect({ qps: 2, burst: 1, fence: (method) => (leader || method === 'GET' ? undefined : 'lost the Lease') });
    api.play();
    await client.request('GET', '/api/v1/pods'); // takes the one token: the write below must wait
    const write = client.request('PATCH', '/api/v1/namespaces/n/configmaps/a', { body: { data: {} } });
    leader = false;
    const error = (await rejection(write)) as ApiError;
    assert.equal(error.reason, 'Fenced');
    assert.match(error.message, /PATCH \/api\/v1\/namespaces\/n\/configmaps\/a: lost the Lease/);
    await client.request('GET', '/api/v1/pods');
    assert.deepEqual(api.arrivals.map((a) => a.path), ['/api/v1/pods', '/api/v1/pods'], 'the PATCH never reached the server');
  });

  it('rejects a rate limit that would let nothing through, naming the value', () => {
    assert.throws(() => clientFor(server, { qps: 0 }), /qps 0/);
    assert.throws(() => clientFor(server, { burst: -1 }), /burst -1/);
  });
});
