// `apiaccess doctor`: the ordered chain of checks, from "which configuration" to "may I do this",
// each layer needing the one below it, so the first failure is where access breaks.
import { checkIdentity, checkPermissions } from './api-checks.ts';
import { checkCan } from './can-check.ts';
import { describeTarget, type AccessQuery } from './can.ts';
import { CAN_PREFIX, CheckName, runChain, type Check, type CheckResult } from './chain.ts';
import { chooseNamespace, type DoctorContext, type DoctorOptions, type Identity } from './context.ts';
import { checkCaCertificate, checkConfigSource, checkTokenClaims, checkTokenFile } from './local-checks.ts';
import { checkApiVersion, checkTcpConnect, checkTlsHandshake } from './network-checks.ts';

export interface DoctorReport {
  /** No check failed (warnings allowed). */
  readonly ok: boolean;
  readonly source: string | null;
  readonly server: string | null;
  /** The Proxy-mode sidecar's URL when the server is it (the API server is then behind it). */
  readonly proxy: string | null;
  readonly identity: Identity | null;
  readonly namespace: string | null;
  readonly checks: readonly CheckResult[];
}

export function doctorChecks(queries: readonly AccessQuery[]): Check<DoctorContext>[] {
  const { ConfigSource, TokenFile, TokenClaims, CaCertificate, TcpConnect, TlsHandshake, ApiVersion, Identity, Permissions } = CheckName;
  return [
    { name: ConfigSource, needs: [], run: checkConfigSource },
    { name: TokenFile, needs: [ConfigSource], run: checkTokenFile },
    { name: TokenClaims, needs: [TokenFile], run: checkTokenClaims },
    { name: CaCertificate, needs: [ConfigSource], run: checkCaCertificate },
    { name: TcpConnect, needs: [ConfigSource], run: checkTcpConnect },
    { name: TlsHandshake, needs: [TcpConnect, CaCertificate], run: checkTlsHandshake },
    { name: ApiVersion, needs: [TlsHandshake], run: checkApiVersion },
    // An expired or unreadable token makes the server's answer predictable (401): say why instead.
    { name: Identity, needs: [ApiVersion, TokenClaims], run: checkIdentity },
    { name: Permissions, needs: [Identity], run: checkPermissions },
    ...queries.map((query) => ({ name: canCheckName(query), needs: [Identity], run: checkCan(query) })),
  ];
}

export function canCheckName(query: AccessQuery): string {
  return `${CAN_PREFIX}${query.verb}-${describeTarget(query)}`;
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const context: DoctorContext = { options };
  try {
    const checks = await runChain(doctorChecks(options.can), context);
    const connection = context.connection;
    return {
      ok: checks.every((c) => c.verdict !== 'fail'),
      source: connection?.source ?? null,
      server: connection?.server ?? null,
      proxy: context.proxy?.url ?? null,
      identity: context.identity ?? null,
      namespace: connection ? chooseNamespace(context).name : null,
      checks,
    };
  } finally {
    context.client?.close();
  }
}
