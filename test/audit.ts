// The API server's audit log (Metadata level, one JSON event per line; its path is in cluster.json):
// who really sent which request, with which credential. Tests read the part written after a mark
// (`auditMark`), so a long run's log is not parsed again and again.
import { open, stat } from 'node:fs/promises';
import { testCluster } from './harness.ts';

export interface AuditEvent {
  verb: string;
  requestURI: string;
  userAgent?: string;
  sourceIPs?: string[];
  stage: string;
  stageTimestamp: string;
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string };
  /** Empty (`{}`) for a request that failed authentication. */
  user: { username?: string; groups?: string[]; extra?: Record<string, string[]> };
  responseStatus?: { code?: number };
}

export const CREDENTIAL_ID = 'authentication.kubernetes.io/credential-id';
export const POD_NAME = 'authentication.kubernetes.io/pod-name';

function auditLogPath(): string {
  const path = (testCluster() as { auditLog?: string }).auditLog;
  if (path === undefined) throw new Error('The test cluster has no audit log (cluster.json has no auditLog)');
  return path;
}

/** The current end of the audit log: pass it to `auditEventsSince`. */
export async function auditMark(): Promise<number> {
  return (await stat(auditLogPath())).size;
}

/** A request refused by authentication is logged once, at ResponseStarted, with no user. */
function isFailedAuthentication(e: AuditEvent): boolean {
  return e.stage === 'ResponseStarted' && e.responseStatus?.code === 401;
}

/** Completed requests (and those that failed authentication) logged after `mark`, optionally filtered. */
export async function auditEventsSince(mark: number, filter: (e: AuditEvent) => boolean = () => true): Promise<AuditEvent[]> {
  const file = await open(auditLogPath(), 'r');
  try {
    const { size } = await file.stat();
    const buffer = Buffer.alloc(Math.max(0, size - mark));
    await file.read(buffer, 0, buffer.length, mark);
    const text = buffer.toString('utf8');
    // A line still being written has no newline yet: leave it for the next read.
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    return complete
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as AuditEvent)
      .filter((e) => (e.stage === 'ResponseComplete' || isFailedAuthentication(e)) && filter(e));
  } finally {
    await file.close();
  }
}
