import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.ts';

const base = { host: 'api.internal:6443', token: 'sa-token', upgrade: false };

describe('upstreamRequestHeaders', () => {
  it('the application\'s Authorization is replaced by the ServiceAccount token, and Proxy-Authorization dropped', () => {
    const out = upstreamRequestHeaders({ authorization: 'Bearer app-token', 'proxy-authorization': 'Basic eA==', accept: 'application/json' }, base);
    assert.deepEqual(out, { accept: 'application/json', host: 'api.internal:6443', authorization: 'Bearer sa-token' });
  });

  it('every Impersonate-* header is dropped, so the application cannot act as another user', () => {
    const out = upstreamRequestHeaders({ 'impersonate-user': 'admin', 'impersonate-group': ['system:masters'], 'impersonate-uid': '1', 'impersonate-extra-scopes': 'x', 'user-agent': 'kubectl' }, base);
    assert.deepEqual(Object.keys(out).sort(), ['authorization', 'host', 'user-agent']);
  });

  it('hop-by-hop headers and the headers the Connection header names are dropped; Host is the API server\'s', () => {
    const out = upstreamRequestHeaders({ connection: 'keep-alive, x-trace', 'keep-alive': 'timeout=5', 'x-trace': '1', te: 'trailers', 'transfer-encoding': 'chunked', host: '127.0.0.1:8001', expect: '100-continue', 'content-type': 'application/json' }, base);
    assert.deepEqual(out, { 'content-type': 'application/json', host: 'api.internal:6443', authorization: 'Bearer sa-token' });
  });

  it('an upgrade request keeps Upgrade and says Connection: Upgrade, and still loses the credentials', () => {
    const out = upstreamRequestHeaders({ connection: 'Upgrade', upgrade: 'SPDY/3.1', 'x-stream-protocol-version': 'v4.channel.k8s.io', authorization: 'Bearer app' }, { ...base, upgrade: true });
    assert.deepEqual(out, { upgrade: 'SPDY/3.1', 'x-stream-protocol-version': 'v4.channel.k8s.io', connection: 'Upgrade', host: 'api.internal:6443', authorization: 'Bearer sa-token' });
  });
});

describe('downstreamResponseHeaders', () => {
  it('repeated headers survive in order, hop-by-hop ones go (Node frames the body again)', () => {
    const raw = ['Content-Type', 'application/json', 'Warning', '299 - "a"', 'Warning', '299 - "b"', 'Transfer-Encoding', 'chunked', 'Connection', 'keep-alive', 'Audit-Id', 'x'];
    assert.deepEqual(downstreamResponseHeaders(raw, { upgraded: false }), [
      ['Content-Type', 'application/json'],
      ['Warning', '299 - "a"'],
      ['Warning', '299 - "b"'],
      ['Audit-Id', 'x'],
    ]);
  });

  it('a 101 keeps Connection and Upgrade, which the client needs to switch protocols', () => {
    const raw = ['Connection', 'Upgrade', 'Upgrade', 'SPDY/3.1', 'X-Stream-Protocol-Version', 'v4.channel.k8s.io'];
    assert.deepEqual(downstreamResponseHeaders(raw, { upgraded: true }), [
      ['Connection', 'Upgrade'],
      ['Upgrade', 'SPDY/3.1'],
      ['X-Stream-Protocol-Version', 'v4.channel.k8s.io'],
    ]);
  });
});
