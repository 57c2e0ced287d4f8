// Health probes and metrics over plain HTTP (in-cluster scrape and kubelet probes).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

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

export function metricsServer(registry: Registry): Server {
  return createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('not found\n');
      return;
    }
    registry
      .metrics()
      .then((body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body))
      .catch((error: unknown) => res.writeHead(500).end(String(error)));
  });
}
