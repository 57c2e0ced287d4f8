// The in-Pod report read back from the ephemeral container's log: printed again byte for byte as a
// local run prints it, whatever else the log holds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DoctorReport } from '../doctor.ts';
import { renderJson } from '../report.ts';
import { logTail, reportFromLogs } from './report-from-logs.ts';

const report: DoctorReport = {
  ok: false,
  source: 'KUBECONFIG',
  server: 'http://127.0.0.1:8001',
  proxy: 'http://127.0.0.1:8001',
  identity: { username: 'system:serviceaccount:team-a:reader', groups: ['system:authenticated'] },
  namespace: 'team-a',
  checks: [
    { name: 'config-source', verdict: 'pass', summary: 'ok', details: { source: 'KUBECONFIG' } },
    { name: 'can-list-secrets', verdict: 'fail', summary: 'refused by the proxy sidecar', remedy: 'add it', details: { missing: { verb: 'list' } } },
  ],
};

describe('report from the ephemeral container\'s log', () => {
  it('GIVEN the JSON between other lines THEN the report prints again exactly as the doctor printed it, and the other lines are kept', () => {
    const log = `(node:1) Warning: something\n${renderJson(report)}trailing line\n`;

    const read = reportFromLogs(log);

    assert.ok(read.ok);
    assert.equal(renderJson(read.report), renderJson(report));
    assert.deepEqual(read.otherLines, ['(node:1) Warning: something', 'trailing line']);
  });

  it('GIVEN a report of an older doctor without `proxy` THEN it is accepted and printed as it came', () => {
    const { proxy: _proxy, ...older } = report;
    const read = reportFromLogs(renderJson(older as DoctorReport));

    assert.ok(read.ok);
    assert.equal(renderJson(read.report), renderJson(older as DoctorReport));
  });

  it('GIVEN no JSON, broken JSON or another document THEN the problem is named', () => {
    const none = reportFromLogs('exec /usr/local/bin/apiaccess: no such file or directory\n');
    const broken = reportFromLogs('{\n  "ok": tru\n}\n');
    const other = reportFromLogs(`${JSON.stringify({ ok: true, checks: [{ name: 'x', verdict: 'maybe', summary: '' }] }, null, 2)}\n`);

    assert.deepEqual(none, { ok: false, problem: 'its log holds no JSON report' });
    assert.match(broken.ok ? '' : broken.problem, /not JSON/);
    assert.match(other.ok ? '' : other.problem, /^its report is not a doctor report: /);
  });

  it('GIVEN a long log THEN its last lines make the tail', () => {
    assert.equal(logTail(Array.from({ length: 20 }, (_, i) => `line ${i}`).join('\n'), 2), 'line 18\nline 19');
  });
});
