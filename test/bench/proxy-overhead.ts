// The cost of Proxy mode per request: the compiled `apiaccess proxy` (as the sidecar runs it, a
// process of its own with token, CA and rules files) in front of the real API server, against the
// raw baseline of the same requests sent straight to the API server with the same token over a
// keep-alive HTTPS connection. Both paths are measured in the same run, alternating in blocks so
// that a load change on the machine hits them alike.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serviceAccountToken } from '../metrics.ts';
import { pool, until, type PhaseContext } from './phase.ts';
import { createNamespace, type Bench } from './phases.ts';
import { median, percentile, rate, ratio } from './report.ts';

const SA = 'bench-proxy';
const RULES = [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list'] }];
/** Sequential requests per path, in blocks of BLOCK alternating between the paths. */
const SEQUENTIAL = 600;
const BLOCK = 50;
/** Requests per path with CONCURRENCY in flight, for throughput. */
const PARALLEL = 2000;
const CONCURRENCY = 16;

type Send = () => Promise<number>;

export async function proxyOverhead(b: Bench, repoRoot: string, ctx: PhaseContext): Promise<void> {
  const ns = await createNamespace(b, 'proxy');
  const rbac = 'rbac.authorization.k8s.io/v1';
  await b.admin.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SA } } });
  await b.admin.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, { body: { apiVersion: rbac, kind: 'Role', metadata: { name: SA }, rules: RULES } });
  await b.admin.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
    body: { apiVersion: rbac, kind: 'RoleBinding', metadata: { name: SA }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: SA }, subjects: [{ kind: 'ServiceAccount', name: SA, namespace: ns }] },
  });
  const token = await serviceAccountToken(b.admin, ns, SA);
  const dir = await mkdtemp(join(tmpdir(), 'apiaccess-bench-proxy-'));
  let proxy: ChildProcess | undefined;
  const direct = new HttpsAgent({ keepAlive: true, ca: await readFile(b.info.caFile, 'utf8') });
  const local = new HttpAgent({ keepAlive: true });
  try {
    await writeFile(join(dir, 'token'), token, { mode: 0o600 });
    await copyFile(b.info.caFile, join(dir, 'ca.crt'));
    await writeFile(join(dir, 'rules.json'), JSON.stringify({ version: 1, profile: `${ns}/bench`, user: `system:serviceaccount:${ns}:${SA}`, scope: 'Namespace', namespace: ns, rules: RULES }));
    const port = await freePort();
    const flags = { port: String(port), server: b.info.server, 'token-file': join(dir, 'token'), 'certificate-authority': join(dir, 'ca.crt'), rules: join(dir, 'rules.json'), 'log-level': 'warn', 'log-format': 'json' };
    proxy = spawn(process.execPath, [join(repoRoot, 'operator', 'bin', 'apiaccess.js'), 'proxy', ...Object.entries(flags).map(([k, v]) => `--${k}=${v}`)], { stdio: ['ignore', 'ignore', 'inherit'] });

    const path = `/api/v1/namespaces/${ns}/configmaps/kube-root-ca.crt`;
    const server = new URL(b.info.server);
    const viaApi: Send = async () => await status(httpsRequest({ host: server.hostname, port: server.port, path, agent: direct, headers: { Authorization: `Bearer ${token}` } }));
    const viaProxy: Send = async () => await status(httpRequest({ host: '127.0.0.1', port, path, agent: local }));
    await until('the proxy to answer', async () => (await viaProxy().catch(() => 0)) === 200, ctx, { intervalMs: 200 });
    // The ConfigMap the kubelet's root-CA publisher writes may take a moment in a new namespace.
    await until('kube-root-ca.crt in the namespace', async () => (await viaApi()) === 200, ctx, { intervalMs: 200 });

    for (const send of [viaApi, viaProxy]) for (let i = 0; i < 50; i++) await expectOk(send); // warm-up: connections, JIT
    const samples = { api: [] as number[], proxy: [] as number[] };
    for (let done = 0; done < SEQUENTIAL && !ctx.signal.aborted; done += BLOCK) {
      for (const [send, into] of [[viaApi, samples.api], [viaProxy, samples.proxy]] as const) {
        for (let i = 0; i < BLOCK; i++) {
          const started = performance.now();
          await expectOk(send);
          into.push(performance.now() - started);
        }
      }
    }
    const throughput = async (send: Send): Promise<number | null> => {
      const started = performance.now();
      await pool(PARALLEL, CONCURRENCY, ctx.signal, async () => await expectOk(send));
      return rate(PARALLEL, performance.now() - started);
    };
    const apiRate = await throughput(viaApi);
    const proxyRate = await throughput(viaProxy);
    const rss = await rssMiB(proxy.pid);

    const of = `${samples.api.length} sequential GETs of a ConfigMap per path, alternating in blocks of ${BLOCK}, keep-alive on both`;
    const [apiP50, proxyP50, apiP99, proxyP99] = [median(samples.api), median(samples.proxy), percentile(samples.api, 99), percentile(samples.proxy, 99)];
    ctx.record({ name: 'GET straight to the API server p50', value: apiP50 ?? null, unit: 'ms', note: `the raw baseline: ${of}; p99 ${apiP99?.toFixed(2)} ms` });
    ctx.record({ name: 'GET through the proxy p50', value: proxyP50 ?? null, unit: 'ms', note: `plain HTTP to 127.0.0.1, authorized locally, forwarded over HTTPS; p99 ${proxyP99?.toFixed(2)} ms` });
    ctx.record({ name: 'proxy / direct p50', value: ratio(proxyP50, apiP50), unit: 'x', note: `added ${((proxyP50 ?? 0) - (apiP50 ?? 0)).toFixed(2)} ms per request` });
    ctx.record({ name: 'proxy / direct p99', value: ratio(proxyP99, apiP99), unit: 'x' });
    ctx.record({ name: 'throughput through the proxy / direct', value: ratio(proxyRate, apiRate), unit: 'x', note: `${PARALLEL} GETs, ${CONCURRENCY} in flight: ${proxyRate?.toFixed(0)} vs ${apiRate?.toFixed(0)} requests/s; the client, the proxy and the API server share the 2 cores` });
    ctx.record({ name: 'proxy RSS after the run', value: rss, unit: 'MiB', note: 'VmRSS of the proxy process after all requests' });
  } finally {
    direct.destroy();
    local.destroy();
    if (proxy !== undefined && proxy.exitCode === null) {
      proxy.kill('SIGTERM');
      await once(proxy, 'exit');
    }
    await rm(dir, { recursive: true, force: true });
  }
}

async function status(req: import('node:http').ClientRequest): Promise<number> {
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  res.resume();
  await once(res, 'end');
  return res.statusCode ?? 0;
}

async function expectOk(send: Send): Promise<void> {
  const code = await send();
  if (code !== 200) throw new Error(`a measured GET answered ${code}, not 200`);
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  server.close();
  await once(server, 'close');
  return port;
}

async function rssMiB(pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null;
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1];
  return kb === undefined ? null : Number(kb) / 1024;
}
