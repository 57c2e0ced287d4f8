// `apiaccess proxy --probe`: the sidecar's startupProbe. Only node:net is loaded (no pino, zod or
// client-node), so the kubelet's exec costs little more than Node's own start.
import { connect } from 'node:net';
import { CommandExit, EXIT_FAILURE } from '../exit.ts';

const PROBE_TIMEOUT_MS = 1_000;

/** Whether 127.0.0.1:<port> accepts a TCP connection within the timeout. */
export async function listening(port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const settle = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => settle(false));
    socket.once('connect', () => settle(true));
    socket.once('error', () => settle(false));
  });
}

export async function probeCommand(port: number): Promise<void> {
  if (!(await listening(port))) throw new CommandExit(EXIT_FAILURE, `proxy probe: nothing accepts connections on 127.0.0.1:${port}`);
}

/**
 * The port when `args` (after the program name) are exactly a probe: `proxy --probe --port=N` (or
 * `--port N`, flags in any order); otherwise undefined and the CLI parses them, with its usage errors.
 * Lets operator/bin/apiaccess.js skip commander and the CLI's modules for the kubelet's probe.
 */
export function probePort(args: readonly string[]): number | undefined {
  if (args[0] !== 'proxy') return undefined;
  let probe = false;
  let port: string | undefined;
  for (let i = 1; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--probe' && !probe) probe = true;
    else if (arg.startsWith('--port=') && port === undefined) port = arg.slice('--port='.length);
    else if (arg === '--port' && port === undefined && i + 1 < args.length) port = args[++i];
    else return undefined;
  }
  const n = Number(port);
  return probe && port !== undefined && /^\d+$/.test(port) && n >= 1 && n <= 65535 ? n : undefined;
}

/** The probe's exit code, with the CLI's message on failure. */
export async function probeExitCode(port: number): Promise<number> {
  try {
    await probeCommand(port);
    return 0;
  } catch (error) {
    process.stderr.write(`apiaccess: ${(error as Error).message}\n`);
    return (error as CommandExit).exitCode ?? EXIT_FAILURE;
  }
}
