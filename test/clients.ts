// Foreign clients that tests drive unmodified: Debian's kubectl (1.20) and Python client.
// test/kube/install-clients.sh installs both on a fresh machine.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Debian's python3-kubernetes lives beside the system interpreter, not beside a pyenv `python3` on PATH. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

export interface ProcessResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Debian's kubectl, unpacked from its package into the cache: another package may own
 * /usr/bin/kubectl on the host, so it is not apt-installed.
 */
export function kubectlPath(): string {
  const path =
    process.env.APIACCESS_KUBECTL ??
    join(process.env.APIACCESS_CACHE_DIR ?? join(homedir(), '.cache', 'apiaccess'), 'debs', 'root', 'usr', 'bin', 'kubectl');
  if (!existsSync(path)) throw new Error(`kubectl not found at ${path}: run test/kube/install-clients.sh (or set APIACCESS_KUBECTL)`);
  return path;
}

export interface RunOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly input?: string;
  readonly timeoutMs?: number;
}

/** Runs a program to completion; a non-zero exit is a result, not an error. */
export async function runProgram(program: string, args: readonly string[], options: RunOptions = {}): Promise<ProcessResult> {
  return await new Promise<ProcessResult>((resolve, reject) => {
    const child = spawn(program, args, {
      env: options.env ? { ...options.env } : process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/**
 * kubectl against the given kubeconfig only: HOME points nowhere and KUBECONFIG is replaced, so
 * the host's ~/.kube/config can never be used by accident.
 */
export async function runKubectl(args: readonly string[], kubeconfig: string, options: RunOptions = {}): Promise<ProcessResult> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', KUBECONFIG: kubeconfig, ...options.env };
  return await runProgram(kubectlPath(), args, { ...options, env });
}
