// Runs the real operator (`apiaccess run`) as a child process, authenticated as its own
// ServiceAccount with only the synthesized ClusterRole, against the test control plane.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { KubeClient } from '../operator/kube/client.ts';
import { kubeConfig, testCluster } from './harness.ts';
import { installOperator, writeOperatorKubeconfig } from './install.ts';
import { prometheusToken, requestsIn, scrape } from './metrics.ts';

const BIN = resolve(import.meta.dirname, '..', 'operator', 'bin', 'apiaccess.js');

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export interface OperatorProcess {
  readonly logs: LogLine[];
  readonly metricsUrl: string;
  /** http://host:port of /healthz and /readyz. */
  readonly healthUrl: string;
  readonly kubeconfig: string;
  /** Sum of apiaccess_kube_requests_total for the given verbs. */
  requests(verbs: readonly string[]): Promise<number>;
  /** The whole /metrics text, as Prometheus scrapes it. */
  metrics(): Promise<string>;
  /** True until the process exited. */
  running(): boolean;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL (a crash, no cleanup). */
  kill(): Promise<void>;
}

export const WRITE_VERBS = ['POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** An admin client (the test's own hands), built on the operator's HTTP client. */
export function adminClient(): KubeClient {
  return KubeClient.fromKubeConfig(kubeConfig('admin'));
}

export interface StartOptions {
  /** Added to the process's environment (POD_NAME, for instance). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * The log line that means started: `Started reconciling` (default), or `Synced caches` for a
   * standby replica that waits for the leader Lease.
   */
  readonly until?: 'Started reconciling' | 'Synced caches';
}

/** Starts `apiaccess run --namespace <ns>` and resolves once it reconciles (or, see `until`, is synced). */
export async function startOperator(namespace: string, extraArgs: readonly string[] = [], options: StartOptions = {}): Promise<OperatorProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'apiaccess-operator-'));
  await installOperator(testCluster());
  const kubeconfig = await writeOperatorKubeconfig(testCluster(), join(dir, 'operator.kubeconfig'), 3600);
  const args = [BIN, 'run', '--kubeconfig', kubeconfig, '--namespace', namespace, '--metrics-bind-address', '127.0.0.1:0', '--health-probe-bind-address', '127.0.0.1:0', '--log-format', 'json', ...extraArgs];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBECONFIG: '', HOME: dir, ...options.env } });
  const logs: LogLine[] = [];
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line) as LogLine);
    } catch {
      logs.push({ level: 30, msg: line });
    }
  });
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const started = Date.now();
  const until = options.until ?? 'Started reconciling';
  while (!logs.some((l) => l.msg === until)) {
    if (child.exitCode !== null || Date.now() - started > 60_000) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`The operator did not start: exit ${child.exitCode}\n${stderr}\n${logs.map((l) => JSON.stringify(l)).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const address = logs.find((l) => l.msg === 'Serving metrics')?.address as string;
  const metricsUrl = `https://${address}/metrics`;
  const admin = adminClient();
  const token = await prometheusToken(admin).finally(() => admin.close());
  const healthUrl = `http://${logs.find((l) => l.msg === 'Serving health probes')?.address as string}`;
  const metrics = async (): Promise<string> => {
    const got = await scrape(metricsUrl, token);
    if (got.status !== 200) throw new Error(`GET ${metricsUrl} answered ${got.status}: ${got.body}`);
    return got.body;
  };
  return {
    logs,
    metricsUrl,
    healthUrl,
    kubeconfig,
    requests: async (verbs) => requestsIn(await metrics(), verbs),
    metrics,
    running: () => child.exitCode === null && child.signalCode === null,
    stop: async () => finish(child, exited, 'SIGTERM', dir),
    kill: async () => {
      await finish(child, exited, 'SIGKILL', dir);
    },
  };
}

async function finish(child: ChildProcess, exited: Promise<number | null>, signal: NodeJS.Signals, dir: string): Promise<number | null> {
  if (child.exitCode === null) child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await exited;
  clearTimeout(timer);
  rmSync(dir, { recursive: true, force: true });
  return code;
}
