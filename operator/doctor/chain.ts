// The doctor's ordered chain: each check is a small named function returning its result as data;
// a check whose prerequisite failed (or was itself skipped for that reason) is not run but reported
// as `skip`, naming what it waits for, so the first `fail` is the place to start.

export type Verdict = 'pass' | 'warn' | 'fail' | 'skip';

/** Stable kebab-case check names: scripts match on them (`--json`), docs/troubleshooting.md explains each. */
export const CheckName = {
  ConfigSource: 'config-source',
  TokenFile: 'token-file',
  TokenClaims: 'token-claims',
  CaCertificate: 'ca-certificate',
  TcpConnect: 'tcp-connect',
  TlsHandshake: 'tls-handshake',
  ApiVersion: 'api-version',
  Identity: 'identity',
  Permissions: 'permissions',
} as const;

/** One per `--can VERB RESOURCE`: `can-<verb>-<resource>[.<group>][/<subresource>]`, e.g. `can-list-deployments.apps`. */
export const CAN_PREFIX = 'can-';

export interface CheckResult {
  readonly name: string;
  readonly verdict: Verdict;
  readonly summary: string;
  /** One line, present when the verdict is not `pass`. */
  readonly remedy?: string;
  /** Machine-readable facts for `--json`; never a credential. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** What a check returns: its result without the name, which the chain adds. */
export type Outcome = Omit<CheckResult, 'name'>;

export interface Check<Context> {
  readonly name: string;
  /** Checks that must have run without failing first. */
  readonly needs: readonly string[];
  readonly run: (context: Context) => Promise<Outcome>;
}

export function pass(summary: string, details?: Record<string, unknown>): Outcome {
  return { verdict: 'pass', summary, ...(details ? { details } : {}) };
}

export function warn(summary: string, remedy: string, details?: Record<string, unknown>): Outcome {
  return { verdict: 'warn', summary, remedy, ...(details ? { details } : {}) };
}

export function fail(summary: string, remedy: string, details?: Record<string, unknown>): Outcome {
  return { verdict: 'fail', summary, remedy, ...(details ? { details } : {}) };
}

/** Not applicable here (e.g. no token file with a client certificate); does not stop dependents. */
export function notApplicable(summary: string, details?: Record<string, unknown>): Outcome {
  return { verdict: 'skip', summary, ...(details ? { details } : {}) };
}

/**
 * Runs the checks in order. A check runs only when none of its `needs` is blocked; a failed check
 * and a check skipped because of a blocked prerequisite are blocked. A check that throws is a
 * `fail` (a bug in the check must not hide the rest of the report).
 */
export async function runChain<Context>(checks: readonly Check<Context>[], context: Context): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const blocked = new Map<string, Verdict>();
  for (const check of checks) {
    const waitingFor = check.needs.filter((name) => blocked.has(name));
    if (waitingFor.length > 0) {
      blocked.set(check.name, 'skip');
      const why = waitingFor.map((name) => `${name} (${blocked.get(name) === 'fail' ? 'failed' : 'skipped'})`).join(', ');
      results.push({ name: check.name, verdict: 'skip', summary: `not run: waits for ${why}` });
      continue;
    }
    const outcome = await runOne(check, context);
    if (outcome.verdict === 'fail') blocked.set(check.name, 'fail');
    results.push({ name: check.name, ...outcome });
  }
  return results;
}

async function runOne<Context>(check: Check<Context>, context: Context): Promise<Outcome> {
  try {
    return await check.run(context);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return fail(`the check itself failed: ${message}`, 'report this as a bug of apiaccess doctor, with the output of --json');
  }
}
