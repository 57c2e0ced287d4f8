// The `apiaccess` command line (commander). Exit codes: 0 success, 1 failure, 2 bad usage.
// Only commander is loaded up front: each command imports its implementation when it runs, so
// `--help` and usage errors do not pay for client-node, pino and prom-client.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { doctorCommand } from './doctor/command.ts';
import { CommandExit, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit.ts';
import { proxyCommand } from './proxy/command.ts';
import type { KubeconfigFlags } from './commands/kubeconfig-export.ts';
import type { RunFlags } from './commands/run.ts';

export { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit.ts';

/** ClientConfigError's code (operator/config/client-config.ts), matched without loading that module. */
const CLIENT_CONFIG_INVALID = 'ClientConfigInvalid';

export function program(): Command {
  const cli = new Command('apiaccess')
    .description('Gives workloads access to the Kubernetes API server, declaratively, safely and provably')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) });

  cli
    .command('run')
    .description('Run the operator: reconcile ApiAccessProfiles and the workloads labelled apiaccess.dev/profile')
    .option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, in-cluster, then ~/.kube/config)')
    .option('--apiserver-host <url>', 'API server URL, overriding the kubeconfig\'s')
    .option('--insecure-skip-tls-verify', 'do not verify the API server\'s certificate (warns on every start)')
    .option('--namespace <ns>', 'only reconcile this namespace (default: all)')
    .option('--leader-elect', 'elect a leader through a Lease so that only one replica reconciles')
    .option('--leader-election-namespace <ns>', 'namespace of the leader election Lease', process.env.POD_NAMESPACE ?? 'apiaccess-system')
    .option('--metrics-bind-address <addr>', 'address of the Prometheus /metrics endpoint (HTTPS, bearer token with get on /metrics); 0 disables it', ':8443')
    .option('--metrics-cert-dir <dir>', 'directory with tls.crt and tls.key for /metrics (default: a self-signed certificate made at start)')
    .option('--no-metrics-secure', 'serve /metrics over plain HTTP without authentication; only on a loopback address')
    .option('--health-probe-bind-address <addr>', 'address of /healthz and /readyz; 0 disables it', ':8081')
    .option('--log-level <level>', 'trace, debug, info, warn or error', 'info')
    .addOption(new Option('--log-format <format>', 'json, or pretty (default on a terminal)').choices(['json', 'pretty']))
    .option('--kube-api-qps <qps>', 'client-side limit of requests per second to the API server, watch starts included (default: 200)', positiveNumber)
    .option('--kube-api-burst <n>', 'requests let through at once above --kube-api-qps (default: 400)', positiveInteger)
    .option('--proxy-image <ref>', 'image of the auth: Proxy sidecar, the operator\'s own (default: APIACCESS_PROXY_IMAGE; without it Proxy profiles are not injected)', process.env.APIACCESS_PROXY_IMAGE)
    .action(async (flags: RunFlags) => (await import('./commands/run.ts')).runOperator(flags));
  cli.addCommand(doctorCommand());

  cli
    .command('preview')
    .description('Show, without changing anything (server-side dry-run), the objects and pod-template changes a profile would produce')
    .argument('<profile>', 'ApiAccessProfile name')
    .requiredOption('-n, --namespace <ns>', 'namespace of the profile')
    .option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, in-cluster, then ~/.kube/config)')
    .action(async (profile: string, flags: { namespace: string; kubeconfig?: string }) => (await import('./commands/preview.ts')).previewCommand(profile, flags));

  cli
    .command('kubeconfig')
    .description('Print a kubeconfig for the profile\'s ServiceAccount (TokenRequest) for use outside the cluster')
    .argument('<profile>', 'ApiAccessProfile name')
    .requiredOption('-n, --namespace <ns>', 'namespace of the profile')
    .option('--duration <d>', 'token lifetime, e.g. 30m, 1h, 1d (minimum 10m)', '1h')
    .option('--server <url>', 'API server URL written into the kubeconfig (default: the one you use now)')
    .option('--output <file>', 'write to this file (mode 0600) instead of standard output')
    .option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, in-cluster, then ~/.kube/config)')
    .action(async (profile: string, flags: KubeconfigFlags) => (await import('./commands/kubeconfig-export.ts')).kubeconfigCommand(profile, flags));
  cli.addCommand(proxyCommand());
  return cli;
}

/** Commander argument parser: a finite number > 0 (commander names the flag and the value when it throws). */
export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('Expected a number > 0.');
  return n;
}

/** Commander argument parser: an integer >= 1. */
export function positiveInteger(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1) throw new InvalidArgumentError('Expected an integer >= 1.');
  return n;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    if (error instanceof CommandExit) {
      if (error.message !== '') process.stderr.write(`apiaccess: ${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof Error && (error as { code?: unknown }).code === CLIENT_CONFIG_INVALID) {
      process.stderr.write(`apiaccess: ${error.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`apiaccess: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_FAILURE;
  }
}
