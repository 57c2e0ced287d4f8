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
