// The proxy's upstream agent across a CA rotation, against a real TLS server on 127.0.0.1: requests
// after the change use connections verified with the new CA, idle connections of the old one close,
// and a watch in flight keeps streaming until it ends by itself.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { metricsCertificate } from '../server.ts';
import { upstreamAgent } from './upstream-agent.ts';

describe('the proxy\'s upstream agent when the CA file changes', () => {
  let server: Server;
  let port: number;
  let cert: string;
  let other: string;
  const watches: ServerResponse[] = [];
  /** Connections by number, and which of them have closed. */
  const closed = new Set<number>();
  let connections = 0;

  before(async () => {
    const pems = await metricsCertificate(undefined, 'localhost');
    cert = pems.cert;
    // Another subject: OpenSSL looks trust anchors up by name, and two self-signed 'localhost' CAs would clash.
    other = (await metricsCertificate(undefined, 'another-ca')).cert;
    server = createServer({ cert: pems.cert, key: pems.key });
    server.on('secureConnection', (socket: Socket & { id?: number }) => {
      const id = ++connections;
      socket.id = id;
      socket.on('close', () => closed.add(id));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const id = (req.socket as Socket & { id?: number }).id;
      res.setHeader('X-Connection', String(id));
      if (req.url?.includes('watch=true')) {
        res.writeHead(200).flushHeaders();
        watches.push(res);
        return;
      }
      res.end('{"kind":"PodList"}');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  async function get(agent: import('node:https').Agent, path: string): Promise<IncomingMessage> {
    const req = request({ host: '127.0.0.1', port, path, agent, servername: 'localhost' });
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    return res;
  }

  async function drained(res: IncomingMessage): Promise<string> {
    let body = '';
    for await (const chunk of res) body += String(chunk);
    return body;
  }

  it('GIVEN a watch and an idle connection WHEN the CA changes THEN the idle one closes, the watch streams on, new requests use a new agent', async () => {
    let ca = cert;
    const agents = upstreamAgent(() => ca);
    try {
      const first = agents.current();
      const watch = await get(first, '/api/v1/pods?watch=true');
      const list = await get(first, '/api/v1/pods');
      assert.equal(await drained(list), '{"kind":"PodList"}');
      const [watchConnection, idleConnection] = [Number(watch.headers['x-connection']), Number(list.headers['x-connection'])];
      assert.notEqual(watchConnection, idleConnection);

      // A rotation: the file now holds a bundle of the new CA and the old one.
      ca = `${other}\n${cert}`;
      const next = agents.current();
      assert.notEqual(next, first, 'a new agent for the new CA');
      const idleClosed = new Promise<void>((resolve) => {
        const check = (): void => (closed.has(idleConnection) ? resolve() : void setTimeout(check, 10));
        check();
      });
      await idleClosed;
      assert.equal(closed.has(watchConnection), false, 'the watch was not cut');

      const event = once(watch, 'data');
      watches.at(-1)!.write('{"type":"ADDED"}\n');
      assert.equal(String((await event)[0]), '{"type":"ADDED"}\n');

      const after = await get(next, '/api/v1/pods');
      assert.equal(await drained(after), '{"kind":"PodList"}');
      assert.ok(![watchConnection, idleConnection].includes(Number(after.headers['x-connection'])), 'a new connection');

      // The watch ends by itself: its connection closes instead of going back to the old agent's pool.
      watches.at(-1)!.end();
      await drained(watch);
      await new Promise<void>((resolve) => {
        const check = (): void => (closed.has(watchConnection) ? resolve() : void setTimeout(check, 10));
        check();
      });
    } finally {
      agents.destroy();
    }
  });
});
