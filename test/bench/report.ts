// The pure half of `npm run bench`: the results' shape, the arithmetic on them (percentiles,
// request counts from the operator's /metrics and from the audit log, ratios) and their Markdown
// rendering. bench.ts gathers; this decides and formats; nothing here does I/O.

/** A goal from issue 11: the figure meets it when `value <op> target`. */
export interface Goal {
  readonly op: '>=' | '<=' | '==';
  readonly target: number;
}

export interface Figure {
  readonly name: string;
  /** null when the figure could not be measured (its phase failed, or a division by zero). */
  readonly value: number | null;
  readonly unit: string;
  readonly goal?: Goal;
  /** What exactly was measured, in a few words. */
  readonly note?: string;
}

export interface PhaseResult {
  readonly phase: string;
  readonly ok: boolean;
  readonly seconds: number;
  /** Why it failed (a timeout included), naming the value that was missing. */
  readonly error?: string;
  readonly figures: readonly Figure[];
}

/** Request counts keyed `VERB resource` (e.g. `PATCH deployments`, `POST subjectaccessreviews`). */
export type RequestCounts = Readonly<Record<string, number>>;

export interface SizeResult {
  readonly workloads: number;
  readonly phases: readonly PhaseResult[];
  /**
   * The operator's requests during the initial bind, from its own metrics (every verb, watches and
   * Lease requests included, so nothing is hidden) and from the API server's audit log.
   */
  readonly bindRequests?: { readonly metrics: RequestCounts; readonly audit: RequestCounts };
}

export interface BenchResults {
  readonly date: string;
  readonly commit: string;
  /** Files under crds/, operator/ or manifests/ that differ from the commit (the image holds them). */
  readonly uncommitted: readonly string[];
  readonly machine: { readonly cpus: number; readonly cpuModel: string; readonly memoryGiB: number; readonly kernel: string };
  readonly versions: { readonly node: string; readonly operatorNode: string; readonly kubernetes: string; readonly etcd: string };
  readonly settings: Readonly<Record<string, string | number>>;
  readonly sizes: readonly SizeResult[];
  /** The measurements that do not depend on N (RSS at 0, SAR-heavy profile, RBAC churn, CLI). */
  readonly once: readonly PhaseResult[];
  readonly durationSeconds: number;
}

// ---------- arithmetic ----------

/** Nearest-rank percentile (p in 0..100) of the samples; undefined for no samples. */
export function percentile(samples: readonly number[], p: number): number | undefined {
  if (samples.length === 0) return undefined;
  if (!(p >= 0 && p <= 100)) throw new Error(`percentile: p must be within 0..100, got ${p}`);
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

export function median(samples: readonly number[]): number | undefined {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** a / b, or null when either is unknown or b is 0 (a ratio to a failed baseline is not a ratio). */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return null;
  return a / b;
}

/** n per second over a window in milliseconds; null for an empty or negative window. */
export function rate(n: number, windowMs: number): number | null {
  return windowMs > 0 ? n / (windowMs / 1000) : null;
}

export function meets(value: number | null, goal: Goal | undefined): boolean | undefined {
  if (goal === undefined || value === null) return undefined;
  switch (goal.op) {
    case '>=':
      return value >= goal.target;
    case '<=':
      return value <= goal.target;
    case '==':
      return value === goal.target;
  }
}

// ---------- request counts ----------

/** Parses `name{a="1",b="2"} 3` lines of a Prometheus text exposition for one metric name. */
export function samples(text: string, name: string): Array<{ labels: Record<string, string>; value: number }> {
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const match = /^[^{\s]+(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const m of (match[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!;
    out.push({ labels, value: Number(match[2]) });
  }
  return out;
}

/** A gauge's value (the first sample of that name), or undefined when the scrape has none. */
export function gauge(text: string, name: string): number | undefined {
  return samples(text, name)[0]?.value;
}

/** apiaccess_kube_requests_total summed over status codes, keyed `VERB resource`. */
export function requestCounts(metricsText: string): RequestCounts {
  const counts: Record<string, number> = {};
  for (const s of samples(metricsText, 'apiaccess_kube_requests_total')) {
    const key = `${s.labels.verb ?? '?'} ${s.labels.resource ?? '?'}`;
    counts[key] = (counts[key] ?? 0) + s.value;
  }
  return counts;
}

/** after - before, per key (counters only grow; a key missing before counts from 0). Zero entries are dropped. */
export function difference(before: RequestCounts, after: RequestCounts): RequestCounts {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) {
    const d = value - (before[key] ?? 0);
    if (d !== 0) out[key] = d;
  }
  return out;
}

const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function splitKey(key: string): { verb: string; resource: string } {
  const space = key.indexOf(' ');
  return { verb: key.slice(0, space), resource: key.slice(space + 1) };
}

/** What "the operator's requests" means in every figure: all but watches and Lease requests (leader election). */
export function isCountedRequest(key: string): boolean {
  const { verb, resource } = splitKey(key);
  return verb !== 'WATCH' && resource !== 'leases';
}

export function isWrite(key: string): boolean {
  return isCountedRequest(key) && WRITE_VERBS.has(splitKey(key).verb);
}

export function isRead(key: string): boolean {
  return isCountedRequest(key) && !WRITE_VERBS.has(splitKey(key).verb);
}

export function total(counts: RequestCounts, include: (key: string) => boolean = () => true): number {
  return Object.entries(counts).reduce((sum, [key, n]) => (include(key) ? sum + n : sum), 0);
}

export function only(counts: RequestCounts, include: (key: string) => boolean): RequestCounts {
  return Object.fromEntries(Object.entries(counts).filter(([key]) => include(key)));
}

/** The audit log's verbs under the names the operator's metrics give them. */
const AUDIT_VERBS: Readonly<Record<string, string>> = { get: 'GET', list: 'LIST', watch: 'WATCH', create: 'POST', update: 'PUT', patch: 'PATCH', delete: 'DELETE', deletecollection: 'DELETE' };

/** An audit event's key, as requestCounts keys the metrics: `PATCH deployments`, `PUT apiaccessprofiles/status`. */
export function auditKey(event: { verb: string; requestURI: string; objectRef?: { resource?: string; subresource?: string } }): string {
  const verb = AUDIT_VERBS[event.verb] ?? event.verb.toUpperCase();
  const ref = event.objectRef;
  const resource = ref?.resource === undefined ? event.requestURI.split('?')[0]! : ref.subresource ? `${ref.resource}/${ref.subresource}` : ref.resource;
  return `${verb} ${resource}`;
}

export function countKeys(keys: Iterable<string>): RequestCounts {
  const out: Record<string, number> = {};
  for (const key of keys) out[key] = (out[key] ?? 0) + 1;
  return out;
}

// ---------- rendering ----------

/** A number for a table: 3 significant digits, integers as they are, unknown as "n/a". */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return 'n/a';
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(2);
}

export function formatGoal(goal: Goal | undefined): string {
  return goal === undefined ? '' : `${goal.op} ${goal.target}`;
}

function verdict(figure: Figure): string {
  const met = meets(figure.value, figure.goal);
  return met === undefined ? '' : met ? 'yes' : 'NO';
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function figureRows(phases: readonly PhaseResult[]): string[] {
  const rows: string[] = [];
  for (const phase of phases) {
    if (!phase.ok) rows.push(`| ${cell(phase.phase)} | FAILED | | | | ${cell(phase.error ?? '')} |`);
    phase.figures.forEach((f, i) => {
      const took = i === 0 && phase.ok ? `${formatNumber(phase.seconds)} s` : '';
      rows.push(`| ${cell(f.name)} | ${formatNumber(f.value)} ${cell(f.unit)} | ${formatGoal(f.goal)} | ${verdict(f)} | ${took} | ${cell(f.note ?? '')} |`);
    });
  }
  return rows;
}

const FIGURE_HEADER = ['| figure | value | goal | met | phase took | how it was measured |', '|---|---|---|---|---|---|'];

/** The bind's requests per verb and resource, per bound workload, from both sources side by side. */
export function breakdownRows(workloads: number, requests: NonNullable<SizeResult['bindRequests']>): string[] {
  const keys = [...new Set([...Object.keys(requests.metrics), ...Object.keys(requests.audit)])].sort((a, b) => (requests.metrics[b] ?? 0) - (requests.metrics[a] ?? 0) || a.localeCompare(b));
  const rows = ['| verb resource | metrics | per workload | audit log | counted |', '|---|---|---|---|---|'];
  for (const key of keys) {
    const m = requests.metrics[key] ?? 0;
    rows.push(`| ${cell(key)} | ${m} | ${formatNumber(m / workloads)} | ${requests.audit[key] ?? 0} | ${isCountedRequest(key) ? 'yes' : 'no'} |`);
  }
  return rows;
}

export function markdown(results: BenchResults): string {
  const m = results.machine;
  const v = results.versions;
  const lines = [
    '# Benchmark results',
    '',
    'Generated by `npm run bench`; do not edit by hand. How to read them: [README.md](README.md).',
    '',
    `- date: ${results.date}; run took ${formatNumber(results.durationSeconds / 60)} min`,
    `- operator commit: ${results.commit}${results.uncommitted.length > 0 ? ` with uncommitted changes in ${results.uncommitted.join(', ')}` : ''}`,
    `- machine: ${m.cpus} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Linux ${m.kernel}`,
    `- versions: Kubernetes ${v.kubernetes}, etcd ${v.etcd}, Node.js ${v.node} (bench), ${v.operatorNode} (operator image)`,
    `- settings: ${Object.entries(results.settings)
      .map(([k, val]) => `${k} ${val}`)
      .join(', ')}`,
    '',
  ];
  for (const size of results.sizes) {
    lines.push(`## N = ${size.workloads.toLocaleString('en-US')} workloads`, '', ...FIGURE_HEADER, ...figureRows(size.phases), '');
    if (size.bindRequests) {
      lines.push(`### Operator requests during the initial bind of ${size.workloads.toLocaleString('en-US')}`, '', ...breakdownRows(size.workloads, size.bindRequests), '');
    }
  }
  if (results.once.length > 0) lines.push('## Independent of N', '', ...FIGURE_HEADER, ...figureRows(results.once), '');
  const failed = [...results.sizes.flatMap((s) => s.phases.map((p) => ({ ...p, phase: `N=${s.workloads}: ${p.phase}` }))), ...results.once].filter((p) => !p.ok);
  if (failed.length > 0) lines.push('## Failed phases', '', ...failed.map((p) => `- ${p.phase}: ${p.error ?? 'failed'}`), '');
  return `${lines.join('\n')}`;
}

/** A plain-text table for the terminal: every figure of the run, one line each. */
export function summaryTable(results: BenchResults): string {
  const rows: string[][] = [['N', 'figure', 'value', 'goal', 'met']];
  const add = (n: string, phases: readonly PhaseResult[]): void => {
    for (const p of phases) {
      if (!p.ok) rows.push([n, p.phase, 'FAILED', '', (p.error ?? '').slice(0, 60)]);
      for (const f of p.figures) rows.push([n, f.name, `${formatNumber(f.value)} ${f.unit}`, formatGoal(f.goal), verdict(f)]);
    }
  };
  for (const s of results.sizes) add(String(s.workloads), s.phases);
  add('-', results.once);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
