import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  auditKey,
  breakdownRows,
  difference,
  formatNumber,
  gauge,
  isRead,
  isWrite,
  markdown,
  median,
  meets,
  percentile,
  rate,
  ratio,
  requestCounts,
  summaryTable,
  total,
  isCountedRequest,
  type BenchResults,
} from './report.ts';

const METRICS = `# HELP apiaccess_kube_requests_total Requests the operator sent
# TYPE apiaccess_kube_requests_total counter
apiaccess_kube_requests_total{verb="PATCH",resource="deployments",code="200"} 990
apiaccess_kube_requests_total{verb="PATCH",resource="deployments",code="409"} 10
apiaccess_kube_requests_total{verb="GET",resource="serviceaccounts",code="200"} 1000
apiaccess_kube_requests_total{verb="LIST",resource="deployments",code="200"} 1
apiaccess_kube_requests_total{verb="WATCH",resource="deployments",code="200"} 3
apiaccess_kube_requests_total{verb="PUT",resource="leases",code="200"} 12
apiaccess_kube_requests_total{verb="GET",resource="leases",code="200"} 1
process_resident_memory_bytes 201326592
nodejs_version_info{version="v24.21.0",major="24",minor="21",patch="0"} 1
`;

describe('percentiles', () => {
  it('takes the nearest rank, so p99 of 50 samples is the largest', () => {
    const samples = Array.from({ length: 50 }, (_, i) => i + 1);
    assert.equal(percentile(samples, 50), 25);
    assert.equal(percentile(samples, 99), 50);
    assert.equal(percentile(samples, 0), 1);
  });

  it('does not depend on the order of the samples', () => {
    assert.equal(percentile([30, 10, 20], 50), 20);
  });

  it('has no value without samples and refuses a p outside 0..100', () => {
    assert.equal(percentile([], 50), undefined);
    assert.throws(() => percentile([1], 101), /p must be within 0\.\.100, got 101/);
  });

  it('medians an even count by the mean of the middle two', () => {
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([]), undefined);
  });
});

describe('ratios and rates', () => {
  it('is null when the baseline is missing or zero', () => {
    assert.equal(ratio(40, 50), 0.8);
    assert.equal(ratio(40, null), null);
    assert.equal(ratio(null, 50), null);
    assert.equal(ratio(40, 0), null);
  });

  it('rates per second over a window in milliseconds', () => {
    assert.equal(rate(1000, 20_000), 50);
    assert.equal(rate(1, 0), null);
  });

  it('checks goals by their operator; an unknown value meets nothing', () => {
    assert.equal(meets(0.8, { op: '>=', target: 0.8 }), true);
    assert.equal(meets(101, { op: '<=', target: 100 }), false);
    assert.equal(meets(0, { op: '==', target: 0 }), true);
    assert.equal(meets(null, { op: '==', target: 0 }), undefined);
    assert.equal(meets(3, undefined), undefined);
  });
});

describe('request counts from the operator metrics', () => {
  it('sums status codes per verb and resource', () => {
    const counts = requestCounts(METRICS);
    assert.equal(counts['PATCH deployments'], 1000);
    assert.equal(counts['GET serviceaccounts'], 1000);
    assert.equal(Object.keys(counts).length, 6);
  });

  it('counts every request but watches and Lease requests; writes and reads apart', () => {
    const counts = requestCounts(METRICS);
    assert.equal(total(counts, isCountedRequest), 2001);
    assert.equal(total(counts, isWrite), 1000);
    assert.equal(total(counts, isRead), 1001);
  });

  it('subtracts an earlier scrape, dropping keys that did not change', () => {
    const before = { 'GET serviceaccounts': 10, 'PUT leases': 2 };
    assert.deepEqual(difference(before, { 'GET serviceaccounts': 10, 'PUT leases': 5, 'POST events': 1 }), { 'PUT leases': 3, 'POST events': 1 });
  });

  it('reads gauges such as the resident memory', () => {
    assert.equal(gauge(METRICS, 'process_resident_memory_bytes'), 201326592);
    assert.equal(gauge(METRICS, 'no_such_metric'), undefined);
  });
});

describe('audit events under the metrics keys', () => {
  it('names verbs as the metrics do and keeps the subresource', () => {
    assert.equal(auditKey({ verb: 'patch', requestURI: '/apis/apps/v1/namespaces/a/deployments/w?fieldManager=x', objectRef: { resource: 'deployments' } }), 'PATCH deployments');
    assert.equal(auditKey({ verb: 'update', requestURI: '/x', objectRef: { resource: 'apiaccessprofiles', subresource: 'status' } }), 'PUT apiaccessprofiles/status');
    assert.equal(auditKey({ verb: 'create', requestURI: '/apis/authorization.k8s.io/v1/subjectaccessreviews', objectRef: { resource: 'subjectaccessreviews' } }), 'POST subjectaccessreviews');
  });

  it('names a non-resource request by its path', () => {
    assert.equal(auditKey({ verb: 'get', requestURI: '/version?timeout=32s' }), 'GET /version');
  });
});

describe('rendering', () => {
  it('formats numbers to three significant digits, unknown as n/a', () => {
    assert.equal(formatNumber(46.3333), '46.3');
    assert.equal(formatNumber(0.81234), '0.81');
    assert.equal(formatNumber(1234.5), '1235');
    assert.equal(formatNumber(16), '16');
    assert.equal(formatNumber(null), 'n/a');
  });

  const results: BenchResults = {
    date: '2026-12-02T14:00:00.000Z',
    commit: 'abc1234',
    uncommitted: [],
    machine: { cpus: 2, cpuModel: 'Test CPU', memoryGiB: 24, kernel: '6.1.0' },
    versions: { node: 'v20.20.0', operatorNode: 'v24.21.0', kubernetes: 'v1.37.2', etcd: 'v3.7.0' },
    settings: { workloadWorkers: 16 },
    sizes: [
      {
        workloads: 1000,
        phases: [
          { phase: 'raw server-side apply', ok: true, seconds: 20, figures: [{ name: 'raw SSA ceiling', value: 50, unit: 'objects/s' }] },
          { phase: 'initial bind', ok: true, seconds: 30, figures: [{ name: 'bind / raw', value: 0.5, unit: 'x', goal: { op: '>=', target: 0.8 } }] },
          { phase: 'auth switch', ok: false, seconds: 900, error: 'timed out after 15 min: 12 of 1050 carry the new config-hash', figures: [] },
        ],
        bindRequests: { metrics: { 'PATCH deployments': 1000, 'WATCH deployments': 2 }, audit: { 'PATCH deployments': 1000 } },
      },
    ],
    once: [{ phase: 'CLI start-up', ok: true, seconds: 5, figures: [{ name: 'apiaccess --help / kubectl --help', value: 4.2, unit: 'x', note: 'median of 7' }] }],
    durationSeconds: 600,
  };

  it('renders the machine, each size, goals met or not, and failed phases with their reason', () => {
    const md = markdown(results);
    assert.match(md, /2 cores \(Test CPU\), 24 GiB, Linux 6\.1\.0/);
    assert.match(md, /## N = 1,000 workloads/);
    assert.match(md, /\| raw SSA ceiling \| 50 objects\/s \|  \| {2}\| 20 s \|/);
    assert.match(md, /\| bind \/ raw \| 0\.50 x \| >= 0\.8 \| NO \| 30 s \|/);
    assert.match(md, /\| auth switch \| FAILED \|.*12 of 1050 carry the new config-hash \|/);
    assert.match(md, /## Failed phases\n\n- N=1000: auth switch: timed out/);
    assert.match(md, /## Independent of N/);
  });

  it('breaks the bind requests down per workload, marking what is not counted', () => {
    const rows = breakdownRows(1000, results.sizes[0]!.bindRequests!);
    assert.deepEqual(rows.slice(2), ['| PATCH deployments | 1000 | 1 | 1000 | yes |', '| WATCH deployments | 2 | 0.0020 | 0 | no |']);
  });

  it('prints one aligned line per figure for the terminal', () => {
    const lines = summaryTable(results).split('\n');
    assert.match(lines[0]!, /^N +figure +value +goal +met$/);
    assert.ok(lines.some((l) => /^1000 +bind \/ raw +0\.50 x +>= 0\.8 +NO$/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^1000 +auth switch +FAILED/.test(l)));
  });
});
