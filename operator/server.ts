// Health probes over plain HTTP (kubelet probes), metrics over HTTPS with Kubernetes authentication
// and authorization (metrics-auth.ts), or plain HTTP on a loopback address when asked for.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { METRICS_PATH, type MetricsAuth, type MetricsVerdict } from './metrics-auth.ts';

export interface ProbeState {
  /** Liveness: the process is not wedged. */
  healthy: () => boolean;
  /** Readiness: every cache has synced. */
  ready: () => boolean;
}

/** Parses ":8080", "127.0.0.1:0" or "0" (disabled, like controller-runtime). */
export function parseBindAddress(value: string, flag: string): { host: string; port: number } | undefined {
  if (value === '0') return undefined;
  const match = /^(.*):(\d+)$/.exec(value);
  const port = Number(match?.[2]);
  if (match === null || port > 65535) throw new Error(`${flag} must be [host]:port or 0, got "${value}"`);
  return { host: match[1] === '' ? '0.0.0.0' : (match[1] ?? '0.0.0.0').replace(/^\[|\]$/g, ''), port };
}

export async function listen(server: Server, address: { host: string; port: number }): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return `${bound.address}:${bound.port}`;
}

export function healthServer(state: ProbeState): Server {
  return createServer((req, res) => {
    const ok = req.url === '/healthz' ? state.healthy() : req.url === '/readyz' ? state.ready() : undefined;
    if (ok === undefined) {
      res.writeHead(404).end('not found\n');
      return;
    }
    res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not ready\n');
  });
}

export interface MetricsServerOptions {
  registry: Registry;
  /** Absent: plain HTTP without authentication (only on a loopback address). */
  secure?: { auth: MetricsAuth; tls: { cert: string; key: string } };
}

export function metricsServer(opts: MetricsServerOptions): Server {
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url !== METRICS_PATH) {
      res.writeHead(404).end('not found\n');
      return;
    }
    const verdict = opts.secure === undefined ? Promise.resolve<MetricsVerdict>({ status: 200 }) : opts.secure.auth.check(req.headers.authorization);
    verdict
      .then(async (v) => {
        if (v.status !== 200) {
          res.writeHead(v.status, { 'content-type': 'text/plain', ...(v.status === 401 ? { 'www-authenticate': 'Bearer' } : {}) }).end(`${v.message}\n`);
          return;
        }
        const body = await opts.registry.metrics();
        res.writeHead(200, { 'content-type': opts.registry.contentType }).end(body);
      })
      .catch((error: unknown) => res.writeHead(500).end(String(error)));
  };
  return opts.secure === undefined ? createServer(serve) : createHttpsServer(opts.secure.tls, serve);
}

/** Plain, unauthenticated metrics are an explicit opt-in, and only where nothing else can reach them. */
export function assertLoopback(host: string, flag: string): void {
  const loopback = host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
  if (!loopback) {
    throw new Error(`${flag} serves /metrics without TLS or authentication, so it must bind a loopback address such as 127.0.0.1:8080, got host "${host}"`);
  }
}

/** The serving certificate: tls.crt/tls.key of `dir` (e.g. a cert-manager Secret), else a fresh self-signed one. */
export async function metricsCertificate(dir: string | undefined, hostname: string): Promise<{ cert: string; key: string; selfSigned: boolean }> {
  if (dir !== undefined) return { cert: readFileSync(join(dir, 'tls.crt'), 'utf8'), key: readFileSync(join(dir, 'tls.key'), 'utf8'), selfSigned: false };
  const { generate } = await import('selfsigned');
  const year = 365 * 24 * 3600 * 1000;
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    keyType: 'ec',
    curve: 'P-256',
    notAfterDate: new Date(Date.now() + year),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: hostname }, { type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
    ],
  });
  return { cert: pems.cert, key: pems.private, selfSigned: true };
}
