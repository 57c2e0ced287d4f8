// `apiaccess doctor [--kubeconfig F] [--namespace NS] [--can VERB RESOURCE[.GROUP]]... [--json]`
// Exit 0 when no check fails (warnings allowed), 1 when one fails, 2 on bad usage.
import { Command } from 'commander';
import { defaultEnvironment } from '../config/client-config.ts';
import { CommandExit, EXIT_FAILURE, EXIT_USAGE } from '../exit.ts';
import { parseAccessQueries } from './can.ts';
import { runDoctor } from './doctor.ts';
import { renderJson, renderTable } from './report.ts';

interface DoctorFlags {
  kubeconfig?: string;
  namespace?: string;
  can?: string[];
  json?: boolean;
}

const CONNECT_TIMEOUT_MS = 3_000;
const REQUEST_TIMEOUT_MS = 10_000;

export function doctorCommand(): Command {
  return (
    new Command('doctor')
      .description('Diagnose API access from where it runs (inside a pod or not): an ordered chain of checks, each with a verdict and a remedy')
      .option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, in-cluster, then ~/.kube/config, as `apiaccess run`)')
      .option('--namespace <ns>', 'namespace for the permission checks (default: the context\'s, the in-cluster namespace file, the token\'s, then default)')
      .option('--can <verb-and-resource...>', 'also check VERB RESOURCE[.GROUP][/SUBRESOURCE], e.g. --can list pods --can get deployments.apps (repeatable)')
      .option('--json', 'print one JSON document instead of the table')
      // Subcommands added with addCommand do not inherit the parent's settings: without this, a
      // usage error would exit the process directly (code 1) instead of reaching main() (code 2).
      .exitOverride()
      .action(async (flags: DoctorFlags) => doctor(flags))
  );
}

async function doctor(flags: DoctorFlags): Promise<void> {
  const queries = parseAccessQueries(flags.can ?? []);
  if (!queries.ok) throw new CommandExit(EXIT_USAGE, queries.problem);
  const report = await runDoctor({
    ...(flags.kubeconfig !== undefined ? { kubeconfig: flags.kubeconfig } : {}),
    ...(flags.namespace !== undefined ? { namespace: flags.namespace } : {}),
    can: queries.queries,
    environment: defaultEnvironment(),
    now: () => new Date(),
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
  });
  const colour = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
  process.stdout.write(flags.json === true ? renderJson(report) : renderTable(report, colour));
  // The report already says what failed; CommandExit only carries the exit code.
  if (!report.ok) throw new CommandExit(EXIT_FAILURE);
}
