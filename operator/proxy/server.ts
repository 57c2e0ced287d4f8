// The proxy's HTTP side: plain HTTP from the application on 127.0.0.1, each request authorized
// locally, then forwarded over HTTPS with the ServiceAccount token. Responses are piped as they
// arrive (watches, `logs -f`), nothing is buffered and no timeout applies to a forwarded request;
// upgrades (exec, attach, port-forward over SPDY or WebSocket) become a raw TCP tunnel.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ClientRequest } from 'node:http';
import { request, type RequestOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream';
import type { Logger } from 'pino';
import { authorize, DENIED_HEADER, type Rules } from './authorize.ts';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.ts';
import { requestAttributes } from './request-attributes.ts';
import { failureStatus, type KubeStatus } from './status.ts';
import type { UpstreamAgent } from './upstream-agent.ts';

export type ProxyLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

export interface ProxyServerOptions {
  /** The API server: an https URL (checked by the caller), optionally with a path prefix. */
  readonly upstream: URL;
  /** The keep-alive connections, verified with the current CA (new ones after a CA change). */
  readonly agent: UpstreamAgent;
  readonly token: () => string;
  readonly rules: () => Rules;
  readonly log: ProxyLogger;
}

export interface ProxyServer {
  readonly server: Server;
  /** Stops accepting, lets short requests finish for `graceMs`, then cuts watches and tunnels. */
  close(graceMs: number): Promise<void>;
}

/** An answer the proxy gives itself instead of forwarding. */
interface Answer {
  readonly code: number;
  readonly status: KubeStatus;
  readonly headers: Readonly<Record<string, string>>;
}

export function createProxyServer(options: ProxyServerOptions): ProxyServer {
  const tunnels = new Set<Duplex>();
  // requestTimeout 0: a request whose body is still streaming (a long upload) must not be cut.
  const server = createServer({ requestTimeout: 0, noDelay: true });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => forward(options, req, res));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => tunnel(options, tunnels, req, socket, head));
  server.on('clientError', (_error, socket: Duplex) => socket.destroy());
  return { server, close: async (graceMs) => await close(server, tunnels, options.agent, graceMs) };
}

/** Authorizes the request: undefined when it may be forwarded, else the answer (a 403 is logged). */
function answerFor(options: ProxyServerOptions, req: IncomingMessage, upgrade: boolean): Answer | undefined {
  const attributes = requestAttributes({ method: req.method ?? 'GET', url: req.url ?? '', upgrade });
  if (attributes.kind === 'invalid') {
    return { code: 400, status: failureStatus(400, 'BadRequest', `apiaccess proxy: ${attributes.message}`), headers: {} };
  }
  const rules = options.rules();
  const decision = authorize(attributes, rules);
  if (decision.allowed) return undefined;
  const { kind: _kind, ...fields } = attributes;
  options.log.warn({ ...fields, profile: rules.profile }, 'Refused a request the profile does not allow');
  return { code: 403, status: decision.status, headers: { [DENIED_HEADER]: decision.header } };
}

function upstreamOptions(options: ProxyServerOptions, req: IncomingMessage, upgrade: boolean): RequestOptions {
  const { upstream } = options;
  return {
    protocol: 'https:',
    hostname: upstream.hostname.replace(/^\[|\]$/g, ''),
    port: upstream.port === '' ? 443 : Number(upstream.port),
    method: req.method,
    path: `${upstream.pathname.replace(/\/+$/, '')}${req.url ?? '/'}`,
    headers: upstreamRequestHeaders(req.headers, { host: upstream.host, token: options.token(), upgrade }),
    agent: options.agent.current(),
  };
}

function unreachable(options: ProxyServerOptions, error: Error): Answer {
  const code = (error as NodeJS.ErrnoException).code;
  const message = `apiaccess proxy: the API server ${options.upstream.origin} is unreachable: ${error.message}${code !== undefined && !error.message.includes(code) ? ` (${code})` : ''}`;
  return { code: 503, status: failureStatus(503, 'ServiceUnavailable', message), headers: {} };
}

function forward(options: ProxyServerOptions, req: IncomingMessage, res: ServerResponse): void {
  const answer = answerFor(options, req, false);
  if (answer !== undefined) {
    send(res, answer);
    req.resume();
    return;
  }
  const replayable = safeWithoutBody(req);
  let upstreamRequest: ClientRequest;
  const attempt = (again: boolean): void => {
    upstreamRequest = request(upstreamOptions(options, req, false));
    upstreamRequest.on('response', (upstreamResponse) => {
      options.log.debug({ method: req.method, path: pathOf(req), status: upstreamResponse.statusCode }, 'Forwarded a request');
      const headers = downstreamResponseHeaders(upstreamResponse.rawHeaders, { upgraded: false });
      res.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.statusMessage, headers.flat());
      // A watch's headers must reach the client before its first event, which may be minutes away.
      res.flushHeaders();
      pipeline(upstreamResponse, res, (error) => {
        if (error !== undefined && error !== null) options.log.debug({ path: pathOf(req), err: error.message }, 'Stopped a response stream');
      });
    });
    upstreamRequest.on('error', (error) => {
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      // The API server closed an idle keep-alive connection just as this request was written on it
      // (its idle timeout, a restart behind a load balancer): nothing was processed, so a request
      // without a body and without effects is sent once more on a new connection, as Go's net/http
      // does. Anything else is answered, never replayed.
      if (replayable && !again && upstreamRequest.reusedSocket && isConnectionReset(error)) {
        options.log.debug({ path: pathOf(req), err: error.message }, 'Sent again on a new connection: the reused one was closed');
        attempt(true);
        return;
      }
      options.log.error({ server: options.upstream.origin, path: pathOf(req), err: error.message }, 'Failed to reach the API server');
      send(res, unreachable(options, error));
    });
    if (replayable) {
      upstreamRequest.end();
      req.resume();
    } else {
      req.pipe(upstreamRequest);
    }
  };
  attempt(false);
  // The client gone (a watch closed, `logs -f` interrupted): the upstream request goes too.
  res.on('close', () => {
    if (!res.writableFinished) upstreamRequest.destroy();
  });
}

/** GET, HEAD or OPTIONS without a body: sending it twice changes nothing, and there is nothing to re-read. */
export function safeWithoutBody(req: Pick<IncomingMessage, 'method' | 'headers'>): boolean {
  const method = (req.method ?? 'GET').toUpperCase();
  if (method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') return false;
  if (req.headers['transfer-encoding'] !== undefined) return false;
  const length = req.headers['content-length'];
  return length === undefined || Number(length) === 0;
}

function isConnectionReset(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

function send(res: ServerResponse, answer: Answer): void {
  const body = JSON.stringify(answer.status);
  res.writeHead(answer.code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...answer.headers });
  res.end(body);
}

/** An HTTP response written on a raw socket (after an upgrade request, Node gives no ServerResponse). */
function sendRaw(socket: Duplex, answer: Answer): void {
  const body = JSON.stringify(answer.status);
  const headers: Array<[string, string]> = [
    ['Content-Type', 'application/json'],
    ['Content-Length', String(Buffer.byteLength(body))],
    ['Connection', 'close'],
    ...Object.entries(answer.headers),
  ];
  socket.end(`${statusLine(answer.code, answer.status.reason)}${headerLines(headers)}\r\n${body}`);
}

function statusLine(code: number, message: string | undefined): string {
  return `HTTP/1.1 ${code} ${message ?? ''}\r\n`;
}

function headerLines(headers: ReadonlyArray<readonly [string, string]>): string {
  return headers.map(([name, value]) => `${name}: ${value}\r\n`).join('');
}

function tunnel(options: ProxyServerOptions, tunnels: Set<Duplex>, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const answer = answerFor(options, req, true);
  if (answer !== undefined) {
    sendRaw(socket, answer);
    return;
  }
  const upstreamRequest = request(upstreamOptions(options, req, true));
  upstreamRequest.on('upgrade', (upstreamResponse, upstreamSocket, upstreamHead) => {
    const headers = downstreamResponseHeaders(upstreamResponse.rawHeaders, { upgraded: true });
    socket.write(`${statusLine(101, upstreamResponse.statusMessage)}${headerLines(headers)}\r\n`);
    if (upstreamHead.length > 0) socket.write(upstreamHead);
    if (head.length > 0) upstreamSocket.write(head);
    tunnels.add(socket);
    const done = (): void => {
      tunnels.delete(socket);
      socket.destroy();
      upstreamSocket.destroy();
    };
    upstreamSocket.on('error', done).on('close', done);
    socket.on('error', done).on('close', done);
    upstreamSocket.pipe(socket);
    socket.pipe(upstreamSocket);
  });
  // The API server answered without upgrading (a 403 of its own, a 400): pass that answer on and close.
  upstreamRequest.on('response', (upstreamResponse) => {
    const headers = downstreamResponseHeaders(upstreamResponse.rawHeaders, { upgraded: false }).filter(([n]) => n.toLowerCase() !== 'content-length');
    socket.write(`${statusLine(upstreamResponse.statusCode ?? 502, upstreamResponse.statusMessage)}${headerLines([...headers, ['Connection', 'close']])}\r\n`);
    upstreamResponse.pipe(socket);
  });
  upstreamRequest.on('error', (error) => {
    if (socket.destroyed) return;
    options.log.error({ server: options.upstream.origin, path: pathOf(req), err: error.message }, 'Failed to reach the API server');
    sendRaw(socket, unreachable(options, error));
  });
  socket.on('close', () => upstreamRequest.destroy());
  upstreamRequest.end();
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '';
  const queryAt = url.indexOf('?');
  return queryAt === -1 ? url : url.slice(0, queryAt);
}

async function close(server: Server, tunnels: Set<Duplex>, agent: UpstreamAgent, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const cut = setTimeout(() => {
    server.closeAllConnections();
    for (const socket of tunnels) socket.destroy();
  }, graceMs);
  await closed;
  clearTimeout(cut);
  for (const socket of tunnels) socket.destroy();
  agent.destroy();
}
