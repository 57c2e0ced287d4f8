// The API server's own count of a user's requests: the audit log (Metadata level, one JSON event per
// line) from a byte offset on, streamed (a 10,000-workload bind writes hundreds of MB of events by
// every client). Note the local cluster's policy: get/update/patch of Events are not logged.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { AuditEvent } from '../audit.ts';
import { auditKey, type RequestCounts } from './report.ts';

export async function auditSize(path: string): Promise<number> {
  return (await stat(path)).size;
}

/** Completed requests of `username` logged after byte `mark`, keyed as the operator's metrics key them. */
export async function auditedRequests(path: string, mark: number, username: string): Promise<RequestCounts> {
  const counts: Record<string, number> = {};
  const lines = createInterface({ input: createReadStream(path, { start: mark, encoding: 'utf8' }), crlfDelay: Infinity });
  const needle = `"username":${JSON.stringify(username)}`;
  for await (const line of lines) {
    // Cheap filter first: most lines are other clients' (controller manager, kubelet, the bench).
    if (!line.includes(needle)) continue;
    let event: AuditEvent;
    try {
      event = JSON.parse(line) as AuditEvent;
    } catch {
      continue; // The last line may still be being written.
    }
    if (event.stage !== 'ResponseComplete' || event.user.username !== username) continue;
    const key = auditKey(event);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
