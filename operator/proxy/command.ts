// `apiaccess proxy`: the sidecar of `auth: Proxy` (docs/proxy.md). Its
// implementation is imported only when it runs; `--probe` imports the probe alone, which must stay
// cheap (the kubelet runs it as the startupProbe).
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_PROXY_PORT, PROXY_MOUNT_PATH } from '../../crds/proxy-sidecar.ts';

export interface ProxyFlags {
  port: number;
  server?: string;
  tokenFile: string;
  certificateAuthority: string;
  rules: string;
  probe?: boolean;
  logLevel: string;
  logFormat?: 'json' | 'pretty';
}

export function proxyCommand(): Command {
  return (
    new Command('proxy')
      .description('Run the Proxy-mode sidecar: serve 127.0.0.1:<port> over plain HTTP and forward what the profile allows to the API server with the Pod\'s token')
      .option('--port <port>', 'port on 127.0.0.1 to listen on', portNumber, DEFAULT_PROXY_PORT)
      .option('--server <url>', 'API server URL; https only (required unless --probe)')
      .option('--token-file <file>', 'bearer token file, read again when it changes (at most every 10 s)', `${PROXY_MOUNT_PATH}/token`)
      .option('--certificate-authority <file>', 'CA bundle that verifies the API server\'s certificate', `${PROXY_MOUNT_PATH}/ca.crt`)
      .option('--rules <file>', 'rules file written by the operator (ConfigMap apiaccess-<profile>-proxy, key rules.json)', `${PROXY_MOUNT_PATH}/rules.json`)
      .option('--probe', 'only check that 127.0.0.1:<port> accepts a connection: exit 0 if so, 1 if not (the startupProbe)')
      .option('--log-level <level>', 'trace, debug, info, warn or error', 'info')
      .addOption(new Option('--log-format <format>', 'json, or pretty (default on a terminal)').choices(['json', 'pretty']))
      // As in doctor/command.ts: without this a usage error would exit directly instead of reaching main().
      .exitOverride()
      .action(async (flags: ProxyFlags) => {
        if (flags.probe === true) await (await import('./probe.ts')).probeCommand(flags.port);
        else await (await import('./start.ts')).runProxy(flags);
      })
  );
}

function portNumber(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 65535) throw new InvalidArgumentError('Expected a port number from 1 to 65535.');
  return n;
}
