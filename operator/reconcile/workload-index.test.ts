import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { slimWorkload, type Workload } from './workload-index.ts';

function deployment(): Workload {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'w',
      namespace: 'team-a',
      labels: { 'apiaccess.dev/profile': 'agent' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":"copy"}', 'deployment.kubernetes.io/revision': '2' },
      managedFields: [{ manager: 'kubectl' }],
    },
    spec: { selector: { matchLabels: { app: 'w' } }, template: { metadata: {}, spec: { containers: [{ name: 'app' }] } } },
    status: { replicas: 0, observedGeneration: 2 },
  } as unknown as Workload;
}

describe('slimWorkload', () => {
  it('GIVEN a cached Deployment THEN managedFields, the last-applied copy and status go; labels, other annotations and the template stay', () => {
    const slim = slimWorkload(deployment(), 'Deployment') as Workload & { status?: unknown; metadata: { managedFields?: unknown } };
    assert.equal(slim.metadata.managedFields, undefined);
    assert.deepEqual(slim.metadata.annotations, { 'deployment.kubernetes.io/revision': '2' });
    assert.deepEqual(slim.metadata.labels, { 'apiaccess.dev/profile': 'agent' });
    assert.equal(slim.status, undefined);
    assert.deepEqual(slim.spec, deployment().spec);
  });

  it('GIVEN a CronJob THEN only status.active is kept (its running Jobs are counted from it)', () => {
    const cron = { ...deployment(), kind: 'CronJob', status: { active: [{ name: 'job-1' }], lastScheduleTime: 'x' } } as unknown as Workload;
    assert.deepEqual((slimWorkload(cron, 'CronJob') as { status?: unknown }).status, { active: [{ name: 'job-1' }] });
  });
});
