// Kubernetes Events on profiles and workloads. Each distinct (object, reason, message) is recorded
// once per process, so a condition that holds across reconciles does not flood the namespace.
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

export class EventRecorder {
  private readonly last = new Map<string, string>();

  constructor(
    private readonly client: KubeClient,
    private readonly logger: Logger,
    private readonly identity: string,
  ) {}

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
  }
}
