// The `apiaccess` command line (commander). Exit codes: 0 success, 1 failure, 2 bad usage.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { exportKubeconfig, parseDuration, writePrivate } from './commands/kubeconfig-export.ts';
import { preview, renderPreview } from './commands/preview.ts';
import { KubeClient } from './kube/client.ts';
import { ClientConfigError, resolveClientConfig } from './config/client-config.ts';
import { doctorCommand } from './doctor/command.ts';
import { CommandExit, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit.ts';
import { createLogger, type LogFormat } from './log.ts';
import { Manager } from './manager.ts';

export { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit.ts';

interface RunFlags {
  kubeconfig?: string;
  apiserverHost?: string;
  insecureSkipTlsVerify?: boolean;
  namespace?: string;
  leaderElect?: boolean;
  leaderElectionNamespace: string;
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  logLevel: string;
  logFormat?: LogFormat;
}

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
    .option('--metrics-bind-address <addr>', 'address of the Prometheus /metrics endpoint; 0 disables it', ':8080')
    .option('--health-probe-bind-address <addr>', 'address of /healthz and /readyz; 0 disables it', ':8081')
    .option('--log-level <level>', 'trace, debug, info, warn or error', 'info')
    .addOption(new Option('--log-format <format>', 'json, or pretty (default on a terminal)').choices(['json', 'pretty']))
    .action(async (flags: RunFlags) => run(flags));
  cli.addCommand(doctorCommand());

  cli
    .command('preview')
    .description('Show, without changing anything (server-side dry-run), the objects and pod-template changes a profile would produce')
    .argument('<profile>', 'ApiAccessProfile name')
    .requiredOption('-n, --namespace <ns>', 'namespace of the profile')
    .option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, in-cluster, then ~/.kube/config)')
    .action(async (profile: string, flags: { namespace: string; kubeconfig?: string }) => {
      const client = clientFor(flags.kubeconfig);
      try {
        process.stdout.write(renderPreview(await preview(client, flags.namespace, profile)));
      } finally {
        client.close();
      }
    });

  cli
    .command('kubeconfig')
    .description('Print a kubeconfig for the profile\'s ServiceAccount (TokenRequest) for use outside the cluster')
    .argument('<profile>', 'ApiAccessProfile name')
    .requiredOption('-n, --namespace <ns>', 'namespace of the profile')
    .option('--duration <d>', 'token lifetime, e.g. 30m, 1h, 1d (minimum 10m)', '1h')
    .option('--server <url>', 'API server URL written into the kubeconfig (default: the one you use now)')
    .option('--output <file>', 'write to this file (mode 0600) instead of standard output')
    .option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, in-cluster, then ~/.kube/config)')
    .action(async (profile: string, flags: { namespace: string; duration: string; server?: string; output?: string; kubeconfig?: string }) => {
      const durationSeconds = parseDuration(flags.duration);
      const config = resolveClientConfig(flags.kubeconfig !== undefined ? { kubeconfig: flags.kubeconfig } : {});
      const cluster = config.kubeConfig.getCurrentCluster();
      const caPem = cluster?.caData ? Buffer.from(cluster.caData, 'base64').toString('utf8') : cluster?.caFile ? readFileSync(cluster.caFile, 'utf8') : undefined;
      const client = KubeClient.fromKubeConfig(config.kubeConfig, { userAgent: 'apiaccess-cli' });
      try {
        const out = await exportKubeconfig(client, { namespace: flags.namespace, profile, durationSeconds, server: flags.server ?? config.server, ...(caPem ? { caPem } : {}) });
        if (flags.output !== undefined) writePrivate(flags.output, out.text);
        else process.stdout.write(out.text);
        process.stderr.write(`Kubeconfig for ServiceAccount ${flags.namespace}/${out.serviceAccount}${flags.output ? ` written to ${flags.output} (mode 0600)` : ''}; the token expires at ${out.expirationTimestamp}\n`);
      } finally {
        client.close();
      }
    });
  return cli;
}

function clientFor(kubeconfig: string | undefined): KubeClient {
  const config = resolveClientConfig(kubeconfig !== undefined ? { kubeconfig } : {});
  for (const warning of config.warnings) process.stderr.write(`warning: ${warning}\n`);
  return KubeClient.fromKubeConfig(config.kubeConfig, { userAgent: 'apiaccess-cli' });
}

async function run(flags: RunFlags): Promise<void> {
  const logger = createLogger({ level: flags.logLevel, ...(flags.logFormat ? { format: flags.logFormat } : {}) });
  const config = resolveClientConfig({
    ...(flags.kubeconfig !== undefined ? { kubeconfig: flags.kubeconfig } : {}),
    ...(flags.apiserverHost !== undefined ? { apiserverHost: flags.apiserverHost } : {}),
    insecureSkipTlsVerify: flags.insecureSkipTlsVerify === true,
  });
  logger.info({ source: config.source, reason: config.reason, server: config.server, context: config.context }, 'Loaded client configuration');
  for (const warning of config.warnings) logger.warn(warning);
  const manager = new Manager({
    clientConfig: config,
    logger,
    leaderElect: flags.leaderElect === true,
    leaderElectionNamespace: flags.leaderElectionNamespace,
    metricsBindAddress: flags.metricsBindAddress,
    healthProbeBindAddress: flags.healthProbeBindAddress,
    ...(flags.namespace !== undefined ? { namespace: flags.namespace } : {}),
    onLeadershipLost: () => process.kill(process.pid, 'SIGTERM'),
  });
  const stopped = new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'Stopping');
      manager
        .stop()
        .then(() => logger.info('Stopped'))
        .catch((error: unknown) => logger.error({ err: error }, 'Stopped with an error'))
        .finally(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await manager.start();
  await stopped;
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
    if (error instanceof ClientConfigError) {
      process.stderr.write(`apiaccess: ${error.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`apiaccess: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_FAILURE;
  }
}
