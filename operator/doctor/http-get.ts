// The doctor's own plain GET, below the API client: it sees the status, the headers and the body as
// sent (the proxy's refusal header included), and it never sends a credential of its own.
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP } from 'node:net';
import type { Connection } from './connection.ts';
import type { HttpAnswer } from './proxy-refusal.ts';

export type GetResult = HttpAnswer | { readonly error: string };

export interface GetOptions {
  readonly ca?: Buffer;
  readonly timeoutMs: number;
  /** Resolve once the headers arrived and drop the rest (a watch would stream until its timeout). */
  readonly headersOnly?: boolean;
}

export function get(url: URL, connection: Connection, options: GetOptions): Promise<GetResult> {
  const { ca, timeoutMs } = options;
  return new Promise<GetResult>((resolve) => {
    const request: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json', 'User-Agent': 'apiaccess-doctor' }, timeout: timeoutMs, agent: false };
    if (connection.https) {
      Object.assign(request, { ...(ca ? { ca } : {}), ...sni(connection) });
      // The user's own setting, reported by tls-handshake; doctor never turns verification off itself.
      if (connection.insecureSkipTlsVerify) request.rejectUnauthorized = false;
    }
    const sent = (connection.https ? https : http).request(url, request, (response) => {
      const answer = (body: string): HttpAnswer => ({ status: response.statusCode ?? 0, headers: response.headers, body });
      if (options.headersOnly && (response.statusCode ?? 0) < 300) {
        response.destroy();
        resolve(answer(''));
        return;
      }
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve(answer(Buffer.concat(chunks).toString('utf8'))));
      response.on('error', (error) => resolve({ error: error.message }));
    });
    sent.on('timeout', () => sent.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    sent.on('error', (error) => resolve({ error: error.message }));
    sent.end();
  });
}

/**
 * The name the certificate must carry: tls-server-name when the kubeconfig sets one, else the host.
 * An IP address cannot be sent as SNI (RFC 6066), so Node then checks the IP against the
 * certificate's IP SANs through `host`.
 */
export function sni(connection: Connection): { servername?: string } {
  const name = verifiedName(connection);
  return isIP(name) === 0 ? { servername: name } : {};
}

export function verifiedName(connection: Connection): string {
  return connection.tlsServerName ?? connection.host;
}
