// `apiaccess doctor --pod NAME [-n NS] [--container C] [--image REF] [--timeout S] [--can ...]`:
// doctor run inside a Pod through an ephemeral container, its report printed as a local run prints
// it (table or --json) and its verdict as the exit code. Progress and notes go to stderr only, so
// `--json` output stays one document.
import { defaultOperatorImage } from '../../desired/operator-image.ts';
import { resolveClientConfig } from '../../config/client-config.ts';
import { CommandExit, EXIT_FAILURE } from '../../exit.ts';
import { KubeClient } from '../../kube/client.ts';
import type { DoctorFlags } from '../command.ts';
import { renderJson, renderTable } from '../report.ts';
import { ephemeralName } from './ephemeral-container.ts';
import { PodDoctorError, runDoctorInPod } from './run-in-pod.ts';

export const DEFAULT_POD_TIMEOUT_SECONDS = 120;

export async function podDoctorAction(flags: DoctorFlags & { pod: string }): Promise<void> {
  const config = resolveClientConfig(flags.kubeconfig !== undefined ? { kubeconfig: flags.kubeconfig } : {});
  const say = (line: string): void => void process.stderr.write(`${line}\n`);
  for (const warning of config.warnings) say(`warning: ${warning}`);
  const client = KubeClient.fromClientConfig(config, { userAgent: 'apiaccess-doctor' });
  let run: Awaited<ReturnType<typeof runDoctorInPod>>;
  try {
    run = await runDoctorInPod(client, {
      namespace: flags.namespace ?? config.namespace,
      pod: flags.pod,
      ...(flags.container !== undefined ? { container: flags.container } : {}),
      image: flags.image ?? defaultOperatorImage(),
      name: ephemeralName(),
      doctorArgs: forwardedArgs(flags),
      timeoutMs: (flags.timeout ?? DEFAULT_POD_TIMEOUT_SECONDS) * 1000,
      say,
    });
  } catch (error) {
    if (error instanceof PodDoctorError) throw new CommandExit(EXIT_FAILURE, error.message);
    throw error;
  } finally {
    client.close();
  }
  const { report, otherLines } = run.report;
  if (otherLines.length > 0) say(`${run.container} also printed:\n${otherLines.join('\n')}`);
  const colour = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
  process.stdout.write(flags.json === true ? renderJson(report) : renderTable(report, colour));
  if (!report.ok) throw new CommandExit(EXIT_FAILURE);
}

/**
 * What the doctor inside gets: the --can pairs and an explicit --namespace. Never --kubeconfig: that
 * is how this process reaches the cluster from outside; inside, the container's own configuration is
 * the one to diagnose.
 */
export function forwardedArgs(flags: Pick<DoctorFlags, 'can' | 'namespace'>): string[] {
  const words = (flags.can ?? []).flatMap((w) => w.split(/\s+/)).filter((w) => w !== '');
  const can: string[] = [];
  for (let i = 0; i + 1 < words.length; i += 2) can.push('--can', words[i]!, words[i + 1]!);
  return [...can, ...(flags.namespace !== undefined ? ['--namespace', flags.namespace] : [])];
}
