// `apiaccess run`: the operator process. Loaded only for this command (client-node, pino and
// prom-client cost most of the CLI's start-up).
import { resolveClientConfig } from '../config/client-config.ts';
import type { LogFormat } from '../log.ts';
import { createLogger } from '../log.ts';
import { CommandExit, EXIT_FAILURE } from '../exit.ts';
import { Manager } from '../manager.ts';

export interface RunFlags {
  kubeconfig?: string;
  apiserverHost?: string;
  insecureSkipTlsVerify?: boolean;
  namespace?: string;
  leaderElect?: boolean;
  leaderElectionNamespace: string;
  proxyImage?: string;
  metricsBindAddress: string;
  metricsSecure: boolean;
  metricsCertDir?: string;
  healthProbeBindAddress: string;
  logLevel: string;
  logFormat?: LogFormat;
  kubeApiQps?: number;
  kubeApiBurst?: number;
}

export async function runOperator(flags: RunFlags): Promise<void> {
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
    metricsSecure: flags.metricsSecure,
    ...(flags.metricsCertDir !== undefined ? { metricsCertDir: flags.metricsCertDir } : {}),
    healthProbeBindAddress: flags.healthProbeBindAddress,
    kubeApiRateLimit: { qps: flags.kubeApiQps, burst: flags.kubeApiBurst },
    ...(flags.namespace !== undefined ? { namespace: flags.namespace } : {}),
    ...(flags.proxyImage !== undefined && flags.proxyImage !== '' ? { proxyImage: flags.proxyImage } : {}),
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
  try {
    await manager.start();
  } catch (error) {
    // A port taken, a certificate unreadable: nothing runs, so nothing may keep the process alive.
    logger.error({ err: error }, 'Failed to start');
    await manager.stop().catch(() => undefined);
    throw new CommandExit(EXIT_FAILURE, `the operator failed to start: ${(error as Error).message}`);
  }
  await stopped;
}
