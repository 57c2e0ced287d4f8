// The doctor's two outputs: a table for people (colour only on a terminal) and one JSON document
// for scripts. Pure functions of the report, so tests compare strings.
import type { CheckResult, Verdict } from './chain.ts';
import type { DoctorReport } from './doctor.ts';

const COLOURS: Readonly<Record<Verdict, string>> = { pass: '\x1b[32m', warn: '\x1b[33m', fail: '\x1b[31m', skip: '\x1b[2m' };
const RESET = '\x1b[0m';

export function renderJson(report: DoctorReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

export function renderTable(report: DoctorReport, colour: boolean): string {
  const width = Math.max('CHECK'.length, ...report.checks.map((c) => c.name.length));
  const pad = (text: string): string => text.padEnd(width);
  const paint = (verdict: Verdict, text: string): string => (colour ? `${COLOURS[verdict]}${text}${RESET}` : text);
  const verdictWidth = 'VERDICT'.length;
  const indent = ' '.repeat(width + 2 + verdictWidth + 2);
  const lines = [`${pad('CHECK')}  VERDICT  SUMMARY`];
  for (const check of report.checks) {
    lines.push(`${pad(check.name)}  ${paint(check.verdict, check.verdict.toUpperCase().padEnd(verdictWidth))}  ${check.summary}`);
    if (check.remedy !== undefined && (check.verdict === 'fail' || check.verdict === 'warn')) lines.push(`${indent}${paint(check.verdict, 'fix:')} ${check.remedy}`);
  }
  lines.push('', conclusion(report.checks, report.ok));
  return `${lines.join('\n')}\n`;
}

function conclusion(checks: readonly CheckResult[], ok: boolean): string {
  const count = (verdict: Verdict): number => checks.filter((c) => c.verdict === verdict).length;
  const warnings = count('warn');
  const tally = `${count('pass')} passed, ${warnings} warning${warnings === 1 ? '' : 's'}, ${count('fail')} failed, ${count('skip')} skipped`;
  const first = checks.find((c) => c.verdict === 'fail');
  return ok ? `OK: ${tally}` : `FAILED at ${first?.name ?? '?'}: ${tally}`;
}
