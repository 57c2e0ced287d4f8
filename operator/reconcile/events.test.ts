import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeClient } from '../kube/client.ts';
import { captureLogger } from '../kube/test-support.ts';
import { EventRecorder, WORKLOAD_EVENT_BURST, WORKLOAD_EVENT_REFILL_MS, type InvolvedObject } from './events.ts';

interface Posted {
  involvedObject: InvolvedObject;
  reason: string;
  message: string;
}

function recorder() {
  const posted: Posted[] = [];
  const client = { request: async (_m: string, _p: string, o: { body: Posted }) => void posted.push(o.body) } as unknown as KubeClient;
  let clock = 1_000_000;
  const events = new EventRecorder(client, captureLogger().logger, 'test', () => clock);
  return { events, posted, advance: (ms: number) => (clock += ms) };
}

const profile: InvolvedObject = { apiVersion: 'apiaccess.dev/v1alpha1', kind: 'ApiAccessProfile', name: 'agent', namespace: 'team-a', uid: 'p-1' };
const workload = (i: number): InvolvedObject => ({ apiVersion: 'apps/v1', kind: 'Deployment', name: `w-${i}`, namespace: 'team-a', uid: `w-${i}` });

describe('EventRecorder.recordForWorkload', () => {
  it('GIVEN a few workloads injected THEN each gets its own Event', async () => {
    const r = recorder();
    for (let i = 0; i < 3; i++) await r.events.recordForWorkload(workload(i), profile, 'Injected', `Injected ${i}`, 'Injected access into');
    assert.deepEqual(r.posted.map((p) => p.involvedObject.name), ['w-0', 'w-1', 'w-2']);
  });

  it('GIVEN a bulk binding of 100 workloads THEN the burst is recorded one by one and the rest in one summary on the profile', async () => {
    const r = recorder();
    for (let i = 0; i < 100; i++) await r.events.recordForWorkload(workload(i), profile, 'Injected', `Injected ${i}`, 'Injected access into');
    assert.equal(r.posted.length, WORKLOAD_EVENT_BURST);
    await r.events.flush();
    assert.equal(r.posted.length, WORKLOAD_EVENT_BURST + 1);
    const summary = r.posted.at(-1)!;
    assert.equal(summary.involvedObject.kind, 'ApiAccessProfile');
    assert.match(summary.message, new RegExp(`^Injected access into ${100 - WORKLOAD_EVENT_BURST} more workloads \\(Deployment w-${WORKLOAD_EVENT_BURST}, .* and \\d+ more\\)`));
    // The same outcome again is not reported again, one by one or summed up.
    await r.events.recordForWorkload(workload(50), profile, 'Injected', 'Injected 50', 'Injected access into');
    await r.events.flush();
    assert.equal(r.posted.length, WORKLOAD_EVENT_BURST + 1);
  });

  it('GIVEN the burst used up THEN one more one-by-one Event is allowed per refill interval', async () => {
    const r = recorder();
    for (let i = 0; i < WORKLOAD_EVENT_BURST + 1; i++) await r.events.recordForWorkload(workload(i), profile, 'Injected', `m${i}`, 'Injected access into');
    assert.equal(r.posted.length, WORKLOAD_EVENT_BURST);
    r.advance(WORKLOAD_EVENT_REFILL_MS);
    await r.events.recordForWorkload(workload(99), profile, 'Injected', 'm99', 'Injected access into');
    assert.equal(r.posted.at(-1)?.involvedObject.name, 'w-99');
  });
});
