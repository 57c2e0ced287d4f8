import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONFIG_HASH_ANNOTATION, INJECTED_LABEL, parseSpec, PROFILE_LABEL } from '../../crds/apiaccessprofile.ts';
import { podTemplateInjection } from '../../operator/desired/pod-template.ts';
import { resolveProfile } from '../../operator/desired/profile.ts';
import { selectableContainers, workloadApplyConfig } from '../../operator/desired/workload.ts';
import { churnRole, deployment, labelOnly, PROFILE, rawApplyConfig, SERVICE_ACCOUNT_SPEC } from './objects.ts';

describe('the raw loop applies what the operator applies', () => {
  it('is the operator apply configuration for a bench workload, without the injected label', () => {
    const parsed = parseSpec(SERVICE_ACCOUNT_SPEC);
    assert.ok(parsed.ok);
    const workload = deployment('ns', 'w-1', PROFILE) as Parameters<typeof selectableContainers>[0];
    const { injection } = podTemplateInjection(resolveProfile({ name: PROFILE, namespace: 'ns', spec: parsed.spec }), selectableContainers(workload));
    const operator = workloadApplyConfig({ kind: 'Deployment', namespace: 'ns', name: 'w-1' }, PROFILE, injection);
    assert.equal(operator.metadata.labels?.[INJECTED_LABEL], PROFILE);
    delete operator.metadata.labels;
    assert.deepEqual(rawApplyConfig('ns', 'w-1'), operator);
  });

  it('sets the ServiceAccount and the config-hash in the pod template', () => {
    const template = (rawApplyConfig('ns', 'w-1') as unknown as { spec: { template: { metadata: { annotations: Record<string, string> }; spec: Record<string, unknown> } } }).spec.template;
    assert.equal(template.spec.serviceAccountName, PROFILE);
    assert.equal(template.spec.automountServiceAccountToken, true);
    assert.match(template.metadata.annotations[CONFIG_HASH_ANNOTATION]!, /^[0-9a-f]{16}$/);
  });
});

describe('bench workloads', () => {
  it('are Deployments with 0 replicas that are not paused', () => {
    const d = deployment('ns', 'w-1') as unknown as { spec: { replicas: number; paused?: boolean }; metadata: { labels?: object } };
    assert.equal(d.spec.replicas, 0);
    assert.equal(d.spec.paused, undefined);
    assert.equal(d.metadata.labels, undefined);
  });

  it('are labelled by an apply that holds the label alone', () => {
    assert.deepEqual(labelOnly('ns', 'lat-3', PROFILE), { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'lat-3', namespace: 'ns', labels: { [PROFILE_LABEL]: PROFILE } } });
  });
});

describe('the churned ClusterRole', () => {
  it('changes its label every revision and its rules every other one', () => {
    const rules = (i: number): number => (churnRole(i) as unknown as { rules: unknown[] }).rules.length;
    assert.notDeepEqual(churnRole(1).metadata.labels, churnRole(2).metadata.labels);
    assert.deepEqual([rules(0), rules(1), rules(2)], [1, 2, 1]);
  });
});
