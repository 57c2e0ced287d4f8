// The report the ephemeral doctor printed (`apiaccess doctor --json`), read back from the
// container's log, which interleaves stdout and stderr: the JSON document is the block from a line
// "{" to a line "}" (renderJson's shape); anything around it is handed back to show on stderr. The
// document is checked at this boundary and then kept as parsed, so that printing it again gives
// byte for byte what a local run prints.
import { z } from 'zod';
import type { DoctorReport } from '../doctor.ts';

const CheckSchema = z.object({
  name: z.string(),
  verdict: z.enum(['pass', 'warn', 'fail', 'skip']),
  summary: z.string(),
  remedy: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});

const ReportSchema = z.object({
  ok: z.boolean(),
  source: z.string().nullable(),
  server: z.string().nullable(),
  // Absent from doctors older than Proxy-mode support (an older --image).
  proxy: z.string().nullable().optional(),
  identity: z.object({ username: z.string(), groups: z.array(z.string()) }).nullable(),
  namespace: z.string().nullable(),
  checks: z.array(CheckSchema),
});

export type LoggedReport =
  | { readonly ok: true; readonly report: DoctorReport; readonly otherLines: readonly string[] }
  | { readonly ok: false; readonly problem: string };

export function reportFromLogs(log: string): LoggedReport {
  const lines = log.split('\n');
  const start = lines.indexOf('{');
  const end = lines.lastIndexOf('}');
  if (start < 0 || end < start) return { ok: false, problem: 'its log holds no JSON report' };
  let value: unknown;
  try {
    value = JSON.parse(lines.slice(start, end + 1).join('\n'));
  } catch (error) {
    return { ok: false, problem: `its log holds a report that is not JSON: ${(error as Error).message}` };
  }
  const checked = ReportSchema.safeParse(value);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    return { ok: false, problem: `its report is not a doctor report: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'unexpected shape'}` };
  }
  const otherLines = [...lines.slice(0, start), ...lines.slice(end + 1)].filter((l) => l.trim() !== '');
  // The parsed value, not zod's output: zod re-orders keys, and the output must match a local run
  // (an older doctor's report, without `proxy`, is printed as that doctor printed it).
  return { ok: true, report: value as DoctorReport, otherLines };
}

/** The last lines of a log, for an error message when no report came. */
export function logTail(log: string, lines = 10): string {
  return log.trimEnd().split('\n').slice(-lines).join('\n');
}
