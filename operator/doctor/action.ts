// What `apiaccess doctor` does once its flags are parsed (the flags are declared in command.ts).
import { defaultEnvironment } from '../config/client-config.ts';
import { CommandExit, EXIT_FAILURE, EXIT_USAGE } from '../exit.ts';
import { parseAccessQueries } from './can.ts';
import type { DoctorFlags } from './command.ts';
import { runDoctor } from './doctor.ts';
import { renderJson, renderTable } from './report.ts';

const CONNECT_TIMEOUT_MS = 3_000;
const REQUEST_TIMEOUT_MS = 10_000;

export async function doctorAction(flags: DoctorFlags): Promise<void> {
  const queries = parseAccessQueries(flags.can ?? []);
  if (!queries.ok) throw new CommandExit(EXIT_USAGE, queries.problem);
  const podOnly = (['container', 'image', 'timeout'] as const).filter((flag) => flags[flag] !== undefined);
  if (flags.pod === undefined && podOnly.length > 0) throw new CommandExit(EXIT_USAGE, `--${podOnly[0]} needs --pod NAME`);
  if (flags.pod !== undefined) {
    await (await import('./pod/pod-action.ts')).podDoctorAction({ ...flags, pod: flags.pod });
    return;
  }
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
