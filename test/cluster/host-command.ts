// Runs the host's own tools (ip, iptables-save, mount, runc, ctr) for the local node. A missing
// program is a result (exit 127), so callers can tell "not installed" from "failed".
import { spawn } from 'node:child_process';

export interface HostResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Debian keeps ip, iptables and runc in sbin, which a non-login root shell may lack on PATH. */
export function hostPath(): string {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  for (const dir of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (!dirs.includes(dir)) dirs.push(dir);
  }
  return dirs.join(':');
}

export async function runHost(program: string, args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<HostResult> {
  return await new Promise<HostResult>((resolve, reject) => {
    const child = spawn(program, args, {
      env: { ...process.env, PATH: hostPath() },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') resolve({ code: 127, stdout: '', stderr: `${program}: not found` });
      else reject(error);
    });
    child.on('close', (code, signal) => {
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    if (child.stdin) {
      // A program that exits without reading its input must not crash this process.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }
  });
}

/** Like runHost, but a non-zero exit throws with the command line and its stderr. */
export async function mustRunHost(program: string, args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const result = await runHost(program, args, options);
  if (result.code !== 0) throw new Error(`${program} ${args.join(' ')} failed (exit ${result.code}): ${result.stderr.trim()}`);
  return result.stdout;
}
