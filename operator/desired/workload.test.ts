import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { profile } from './fixtures.ts';
import { podTemplateInjection } from './pod-template.ts';
import { carriesInjection, replacesPodsOnTemplateChange, selectableContainers, support, workloadApplyConfig, type WorkloadLike } from './workload.ts';

const deployment = (template: object, labels: Record<string, string> = {}): WorkloadLike => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'agent', namespace: 'team-a', labels },
  spec: { template },
});

describe('workload apply configuration', () => {
  const { injection } = podTemplateInjection(profile({ auth: 'Kubeconfig' }), ['app']);

  it('puts the injection at the Deployment\'s pod template and marks the workload as injected', () => {
    const config = workloadApplyConfig({ kind: 'Deployment', namespace: 'team-a', name: 'agent' }, 'agent', injection);
    assert.deepEqual(config.metadata, { name: 'agent', namespace: 'team-a', labels: { 'apiaccess.dev/injected': 'agent' } });
    assert.deepEqual((config.spec as { template: unknown }).template, { metadata: injection.metadata, spec: injection.spec });
  });

  it('puts it under jobTemplate for a CronJob', () => {
    const config = workloadApplyConfig({ kind: 'CronJob', namespace: 'n', name: 'c' }, 'agent', injection) as unknown as { apiVersion: string; spec: { jobTemplate: { spec: { template: unknown } } } };
    assert.equal(config.apiVersion, 'batch/v1');
    assert.deepEqual(config.spec.jobTemplate.spec.template, { metadata: injection.metadata, spec: injection.spec });
  });

  it('without an injection owns nothing, so applying it removes every injected field', () => {
    assert.deepEqual(workloadApplyConfig({ kind: 'StatefulSet', namespace: 'n', name: 's' }, 'agent', undefined), {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 's', namespace: 'n' },
    });
  });

  it('recognises a workload that already carries the injection, with server defaults added', () => {
    const live = deployment(
      {
        metadata: { annotations: { ...injection.metadata.annotations, other: 'x' } },
        spec: {
          ...injection.spec,
          dnsPolicy: 'ClusterFirst',
          containers: [{ name: 'app', image: 'x', env: [{ name: 'A', value: '1' }, ...(injection.spec.containers?.[0]?.env ?? [])], volumeMounts: injection.spec.containers?.[0]?.volumeMounts }],
        },
      },
      { 'apiaccess.dev/injected': 'agent' },
    );
    assert.equal(carriesInjection(live, 'agent', injection), true);
    const withoutEnv = deployment({ ...(live.spec as { template: object }).template }, { 'apiaccess.dev/injected': 'agent' });
    (withoutEnv.spec as { template: { spec: { containers: Array<{ env?: unknown }> } } }).template.spec.containers = [{ name: 'app' }] as never;
    assert.equal(carriesInjection(withoutEnv, 'agent', injection), false, 'a removed env var is re-applied');
    assert.equal(carriesInjection({ ...live, metadata: { ...live.metadata, labels: {} } }, 'agent', injection), false, 'the marker label is part of it');
  });
});

describe('workload support', () => {
  it('reports Jobs and bare Pods, and accepts a bare ReplicaSet (owned objects are never asked: see workload-decision)', () => {
    assert.match(JSON.stringify(support({ kind: 'Job', metadata: { name: 'j' } })), /cannot change after creation/);
    assert.match(JSON.stringify(support({ kind: 'Pod', metadata: { name: 'p' } })), /label its controller/);
    assert.deepEqual(support({ kind: 'ReplicaSet', metadata: { name: 'r' } }), { supported: true });
  });

  it('knows which controllers leave old Pods running after a template change', () => {
    assert.equal(replacesPodsOnTemplateChange({ kind: 'Deployment', metadata: { name: 'd' } }), true);
    assert.equal(replacesPodsOnTemplateChange({ kind: 'StatefulSet', metadata: { name: 's' }, spec: { updateStrategy: { type: 'RollingUpdate' } } }), true);
    assert.equal(replacesPodsOnTemplateChange({ kind: 'StatefulSet', metadata: { name: 's' }, spec: { updateStrategy: { type: 'OnDelete' } } }), false);
    assert.equal(replacesPodsOnTemplateChange({ kind: 'DaemonSet', metadata: { name: 'd' }, spec: { updateStrategy: { type: 'OnDelete' } } }), false);
    assert.equal(replacesPodsOnTemplateChange({ kind: 'ReplicaSet', metadata: { name: 'r' } }), false);
    assert.equal(replacesPodsOnTemplateChange({ kind: 'CronJob', metadata: { name: 'c' } }), false);
  });
});

describe('native sidecars of a workload', () => {
  // GIVEN a Deployment with app container `app`, native sidecar `log-shipper` and ordinary init container `migrate`.
  const template = {
    spec: {
      initContainers: [
        { name: 'migrate', image: 'example/migrate:1' },
        { name: 'log-shipper', image: 'example/shipper:1', restartPolicy: 'Always' },
      ],
      containers: [{ name: 'app', image: 'example/app:1' }],
    },
  };

  it('WHEN its containers are listed THEN the native sidecar is selectable and the ordinary init container is not', () => {
    assert.deepEqual(selectableContainers(deployment(template)), { containers: ['app'], nativeSidecars: ['log-shipper'] });
    assert.deepEqual(selectableContainers({ kind: 'CronJob', metadata: { name: 'c' }, spec: { jobTemplate: { spec: { template } } } }).nativeSidecars, ['log-shipper']);
  });

  it('WHEN injected THEN the apply configuration merges into spec.initContainers by name, and a live workload carrying it is recognised', () => {
    const { injection } = podTemplateInjection(profile({ auth: 'Kubeconfig' }), selectableContainers(deployment(template)));
    const config = workloadApplyConfig({ kind: 'Deployment', namespace: 'team-a', name: 'agent' }, 'agent', injection) as unknown as { spec: { template: { spec: { initContainers: unknown } } } };
    assert.deepEqual(config.spec.template.spec.initContainers, [
      { name: 'log-shipper', env: [{ name: 'KUBECONFIG', value: '/etc/apiaccess/kubeconfig' }], volumeMounts: [{ name: 'apiaccess-agent', mountPath: '/etc/apiaccess', readOnly: true }] },
    ]);

    const withInjection = (sidecar: object): WorkloadLike =>
      deployment(
        {
          metadata: { annotations: injection.metadata.annotations },
          spec: {
            ...injection.spec,
            containers: [{ name: 'app', image: 'example/app:1', ...injection.spec.containers?.[0] }],
            initContainers: [template.spec.initContainers[0], { ...template.spec.initContainers[1], ...sidecar }],
          },
        },
        { 'apiaccess.dev/injected': 'agent' },
      );
    const injected = injection.spec.initContainers?.[0];
    assert.equal(carriesInjection(withInjection({ env: injected?.env, volumeMounts: injected?.volumeMounts }), 'agent', injection), true);
    assert.equal(carriesInjection(withInjection({ volumeMounts: injected?.volumeMounts }), 'agent', injection), false, 'a sidecar without the env is re-applied');
  });
});
