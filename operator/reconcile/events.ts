// Kubernetes Events on profiles and workloads. Each distinct (object, reason, message) is recorded
// once per process, so a condition that holds across reconciles does not flood the namespace.
// Routine Normal Events on workloads (access injected or removed) are recorded on each workload up
// to a burst per profile; beyond it (a profile bound to thousands of workloads at once) they are
// summed up in one Event on the profile per window, the way client-go's spam filter bounds a
// source: otherwise an Event would be half of the requests a bulk binding costs.
import type { Logger } from 'pino';
import type { KubeClient } from '../kube/client.ts';

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid?: string;
}

export type EventType = 'Normal' | 'Warning';

const COMPONENT = 'apiaccess-operator';

/** Normal workload Events recorded one by one per profile and reason before they are summed up. */
export const WORKLOAD_EVENT_BURST = 10;
/** One more one-by-one Event is allowed per this interval. */
export const WORKLOAD_EVENT_REFILL_MS = 1_000;
/** Summed-up Events are recorded on the profile at most this often. */
export const SUMMARY_WINDOW_MS = 10_000;
/** Workloads named in a summary. */
const SUMMARY_EXAMPLES = 5;

interface Bucket {
  tokens: number;
  refilledAt: number;
}

interface Summary {
  on: InvolvedObject;
  reason: string;
  /** e.g. "Injected access into" */
  phrase: string;
  count: number;
  examples: string[];
  timer: NodeJS.Timeout;
}

export class EventRecorder {
  private readonly last = new Map<string, string>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly summaries = new Map<string, Summary>();

  constructor(
    private readonly client: KubeClient,
    private readonly logger: Logger,
    private readonly identity: string,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A routine Normal Event on a workload of profile `on`: recorded on the workload while the
   * profile's burst lasts, else counted into the profile's next summary Event (see the header).
   */
  async recordForWorkload(object: InvolvedObject, on: InvolvedObject, reason: string, message: string, summaryPhrase: string): Promise<void> {
    const key = `${object.uid ?? `${object.kind}/${object.namespace}/${object.name}`}/${reason}`;
    if (this.last.get(key) === message) return;
    const group = `${on.uid ?? `${on.kind}/${on.namespace}/${on.name}`}/${reason}`;
    const now = this.now();
    const bucket = this.buckets.get(group) ?? { tokens: WORKLOAD_EVENT_BURST, refilledAt: now };
    bucket.tokens = Math.min(WORKLOAD_EVENT_BURST, bucket.tokens + (now - bucket.refilledAt) / WORKLOAD_EVENT_REFILL_MS);
    bucket.refilledAt = now;
    this.buckets.set(group, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      await this.record(object, 'Normal', reason, message);
      return;
    }
    this.last.set(key, message);
    let summary = this.summaries.get(group);
    if (summary === undefined) {
      const timer = setTimeout(() => void this.flushSummary(group), SUMMARY_WINDOW_MS);
      timer.unref();
      summary = { on, reason, phrase: summaryPhrase, count: 0, examples: [], timer };
      this.summaries.set(group, summary);
    }
    summary.count += 1;
    if (summary.examples.length < SUMMARY_EXAMPLES) summary.examples.push(`${object.kind} ${object.name}`);
  }

  /** Records every pending summary now (at shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.summaries.keys()].map((group) => this.flushSummary(group)));
  }

  private async flushSummary(group: string): Promise<void> {
    const summary = this.summaries.get(group);
    if (summary === undefined) return;
    this.summaries.delete(group);
    clearTimeout(summary.timer);
    const more = summary.count > summary.examples.length ? ` and ${summary.count - summary.examples.length} more` : '';
    const message = `${summary.phrase} ${summary.count} more workload${summary.count === 1 ? '' : 's'} (${summary.examples.join(', ')}${more}); Events on single workloads are limited to ${WORKLOAD_EVENT_BURST} at once per profile`;
    await this.record(summary.on, 'Normal', summary.reason, message);
  }

  /** Records the event unless the object's last event with this reason said the same. */
  async record(object: InvolvedObject, type: EventType, reason: string, message: string): Promise<void> {
    const key = `${object.uid ?? `${object.kind}/${object.namespace}/${object.name}`}/${reason}`;
    if (this.last.get(key) === message) return;
    this.last.set(key, message);
    const now = new Date().toISOString();
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${object.name}.`, namespace: object.namespace },
      involvedObject: object,
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: COMPONENT },
      reportingComponent: COMPONENT,
      reportingInstance: this.identity,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await this.client.request('POST', `/api/v1/namespaces/${object.namespace}/events`, { body: event });
    } catch (error) {
      // An Event is best effort: failing to record one must not fail the reconcile.
      this.last.delete(key);
      this.logger.warn({ err: error, reason, object: `${object.kind}/${object.namespace}/${object.name}` }, 'Failed to record Event');
    }
  }

  /** Forgets an object's recorded events (it was deleted), so a re-created one is reported again. */
  forget(uidOrKey: string): void {
    for (const key of this.last.keys()) if (key.startsWith(`${uidOrKey}/`)) this.last.delete(key);
    for (const key of this.buckets.keys()) if (key.startsWith(`${uidOrKey}/`)) this.buckets.delete(key);
  }
}
