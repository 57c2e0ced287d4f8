// `apiaccess proxy` itself: checks its inputs (exit 1 naming the file and field), listens on
// 127.0.0.1:<port>, stops cleanly on SIGTERM. Loads node:http(s), pino and zod; never client-node
// (the sidecar runs in every Pod of a Proxy-mode profile, so its memory counts per workload).
import { CommandExit, EXIT_FAILURE, EXIT_USAGE } from '../exit.ts';
import { createLogger } from '../log.ts';
import type { ProxyFlags } from './command.ts';
import { parseRulesText } from './rules-load.ts';
import { createProxyServer, type ProxyLogger } from './server.ts';
import { FILE_CHECK_INTERVAL_MS, parseTokenText } from './token.ts';
import { upstreamAgent } from './upstream-agent.ts';
import { WatchedFile, type Parsed } from './watched-file.ts';

/** Requests still in flight at SIGTERM get this long; watches and tunnels are then cut. */
const SHUTDOWN_GRACE_MS = 2_000;

export async function runProxy(flags: ProxyFlags): Promise<void> {
  const upstream = serverUrl(flags.server);
  const log = createLogger({ level: flags.logLevel, name: 'apiaccess-proxy', ...(flags.logFormat ? { format: flags.logFormat } : {}) });
  const ca = load('certificate authority file', flags.certificateAuthority, parseCaText, log);
  const rules = load('rules file', flags.rules, parseRulesText, log);
  const token = load('token file', flags.tokenFile, parseTokenText, log);

  const agent = upstreamAgent(() => ca.current());
  const proxy = createProxyServer({ upstream, agent, token: () => token.current(), rules: () => rules.current(), log });
  await new Promise<void>((resolve, reject) => {
    proxy.server.once('error', reject);
    proxy.server.listen(flags.port, '127.0.0.1', () => resolve());
  }).catch((error: Error) => {
    agent.destroy();
    throw new CommandExit(EXIT_FAILURE, `proxy: cannot listen on 127.0.0.1:${flags.port}: ${error.message}`);
  });
  const first = rules.current();
  log.info({ port: flags.port, server: upstream.origin, profile: first.profile, scope: first.scope, namespace: first.namespace, rules: first.rules.length }, 'Listening');
  if (first.missingClusterRoles.length > 0) log.warn({ missingClusterRoles: first.missingClusterRoles }, 'Started without the rules of ClusterRoles that were not found');

  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info({ signal }, 'Stopping');
  await proxy.close(SHUTDOWN_GRACE_MS);
  log.info('Stopped');
}

/** The API server URL: https only, since the proxy exists to verify the server and hold the token. */
function serverUrl(server: string | undefined): URL {
  if (server === undefined || server === '') throw new CommandExit(EXIT_USAGE, 'proxy: --server is required (the API server URL, https)');
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new CommandExit(EXIT_USAGE, `proxy: --server ${server} is not a URL`);
  }
  if (url.protocol !== 'https:') throw new CommandExit(EXIT_USAGE, `proxy: --server ${server} is not https: the proxy sends a token and always verifies the server's certificate`);
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new CommandExit(EXIT_USAGE, `proxy: --server ${url.origin} must be a plain URL, without credentials, query or fragment`);
  }
  return url;
}

function parseCaText(text: string): Parsed<string> {
  return text.includes('-----BEGIN CERTIFICATE-----') ? { ok: true, value: text } : { ok: false, error: 'holds no PEM certificate' };
}

/** A file the proxy needs, read now (a problem ends the start, naming the file) and re-read when it changes. */
function load<T>(what: string, file: string, parse: (text: string) => Parsed<T>, log: ProxyLogger): WatchedFile<T> {
  const loaded = WatchedFile.load({
    path: file,
    parse,
    intervalMs: FILE_CHECK_INTERVAL_MS,
    onRejected: (error) => log.error({ file, error }, `Kept the last good ${what}: it changed and cannot be used`),
    onReplaced: () => log.info({ file }, `Reloaded the ${what}`),
  });
  if (!loaded.ok) throw new CommandExit(EXIT_FAILURE, `proxy: ${what} ${loaded.error}`);
  return loaded.value;
}
