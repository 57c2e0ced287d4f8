import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countsAsWork, difference, figure, markdown, meets, percentile, requestCounts, total, type BenchResults } from './report.ts';

const METRICS = `# HELP apiaccess_kube_requests_total x
apiaccess_kube_requests_total{verb="PATCH",resource="deployments",code="200"} 998
apiaccess_kube_requests_total{verb="PATCH",resource="deployments",code="409"} 2
apiaccess_kube_requests_total{verb="WATCH",resource="deployments",code="200"} 4
apiaccess_kube_requests_total{verb="LIST",resource="deployments",code="200"} 2
apiaccess_kube_requests_total{verb="PUT",resource="leases",code="200"} 30
process_resident_memory_bytes 1.2e8
`;

describe('bench report', () => {
  it('GIVEN /metrics THEN requests are summed by verb and resource, and work excludes watches, LISTs and Lease renewals', () => {
    const counts = requestCounts(METRICS);
    assert.deepEqual(counts, { 'PATCH deployments': 1000, 'WATCH deployments': 4, 'LIST deployments': 2, 'PUT leases': 30 });
    assert.equal(total(counts, countsAsWork), 1000);
    assert.deepEqual(difference({ 'PATCH deployments': 400, 'PUT leases': 30 }, counts), { 'PATCH deployments': 600, 'WATCH deployments': 4, 'LIST deployments': 2 });
  });

  it('GIVEN values THEN nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(values, 50), 50);
    assert.equal(percentile(values, 99), 99);
    assert.equal(percentile([7], 99), 7);
    assert.throws(() => percentile([], 50), /no values/);
  });

  it('GIVEN goals THEN they are checked, and a malformed one is refused by name', () => {
    assert.equal(meets(0.85, '>= 0.8'), true);
    assert.equal(meets(141, '<= 100'), false);
    assert.equal(meets(undefined, '<= 100'), undefined);
    assert.throws(() => meets(1, 'about 2'), /"about 2"/);
  });

  it('GIVEN results THEN the Markdown table shows value, goal and verdict, and a failed phase', () => {
    const r: BenchResults = {
      date: '2026-12-02',
      commit: 'abc',
      machine: { cpus: 2, memoryGiB: 24, kernel: '6.1', cpuModel: 'x' },
      versions: { node: 'v20', operatorNode: 'v24', kubernetes: 'v1.37.2', etcd: 'v3.7.0' },
      sizes: [{ workloads: 1000, figures: [figure('initial bind / raw', 0.9, 'x', '>= 0.8'), figure('p99', 141, 'ms', '<= 100')], bindRequests: { 'PATCH deployments': 1000 } }],
      other: [],
      failures: ['auth switch at 1000: timed out'],
      durationSeconds: 60,
    };
    const md = markdown(r);
    assert.match(md, /\| initial bind \/ raw \| 0\.90 x \| >= 0\.8 \| yes \|/);
    assert.match(md, /\| p99 \| 141 ms \| <= 100 \| \*\*no\*\* \|/);
    assert.match(md, /\| PATCH deployments \| 1000 \|/);
    assert.match(md, /- auth switch at 1000: timed out/);
  });
});
