// Programs the tests run on this machine: kubectl of the server's version (the clients that prove
// access in Pods run inside the clients image instead, see pods.ts).
import { spawn } from 'node:child_process';
import { ensureBinaries } from './kube/build.ts';

export interface ProcessResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let kubectlBinary: Promise<string> | undefined;

/** kubectl of the server's version, built from the same Kubernetes module as the cluster. */
export async function serverKubectl(): Promise<string> {
  kubectlBinary ??= ensureBinaries().then((b) => b.kubectl);
  return await kubectlBinary;
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
  return await runProgram(await serverKubectl(), args, { ...options, env });
}
