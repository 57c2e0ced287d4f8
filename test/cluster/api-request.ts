// A minimal HTTPS call to the API server that verifies its certificate against the cluster CA: Node's
// global fetch cannot take a custom CA on Node 20, and the readiness probe must not depend on
// client-node's configuration loading.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';

export interface ApiTarget {
  readonly server: string;
  readonly caFile: string;
  readonly token: string;
}

export interface ApiResponse {
  readonly status: number;
  readonly body: string;
}

export async function apiRequest(
  target: ApiTarget,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<ApiResponse> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const url = new URL(path, target.server);
  return await new Promise<ApiResponse>((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca: readFileSync(target.caFile),
        headers: {
          authorization: `Bearer ${target.token}`,
          accept: 'application/json',
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
        timeout: timeoutMs,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url.href} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** GET/POST returning parsed JSON; throws with the server's message on any non-2xx status. */
export async function apiJson<T>(target: ApiTarget, method: string, path: string, body?: unknown): Promise<T> {
  const res = await apiRequest(target, method, path, body);
  if (res.status < 200 || res.status > 299) {
    throw new Error(`${method} ${path} answered ${res.status}: ${res.body.slice(0, 500)}`);
  }
  return JSON.parse(res.body) as T;
}
