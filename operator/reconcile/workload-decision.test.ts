import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { profile } from '../desired/fixtures.ts';
import { podTemplateInjection } from '../desired/pod-template.ts';
import { selectableContainers, workloadApplyConfig } from '../desired/workload.ts';
import { decideWorkload, needsStaleCount, type WorkloadFacts } from './workload-decision.ts';
import type { IndexedKind, Workload } from './workload-index.ts';

const LABEL = 'apiaccess.dev/profile';
const agent = profile({ auth: 'Kubeconfig' }, { name: 'agent', namespace: 'team-a' });

function object(kind: IndexedKind, over: { labels?: Record<string, string>; owner?: string; spec?: unknown } = {}): Workload {
  const template = { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'app' }] } };
  const spec = over.spec ?? (kind === 'Pod' ? template.spec : kind === 'CronJob' ? { jobTemplate: { spec: { template } } } : { selector: { matchLabels: { app: 'x' } }, template });
  return {
    apiVersion: kind === 'Pod' ? 'v1' : kind === 'Job' || kind === 'CronJob' ? 'batch/v1' : 'apps/v1',
    kind,
    metadata: {
      name: 'w',
      namespace: 'team-a',
      labels: over.labels ?? { [LABEL]: 'agent' },
      ...(over.owner ? { ownerReferences: [{ kind: over.owner, name: 'parent', controller: true }] } : {}),
    },
    spec,
  } as Workload;
}

function facts(workload: Workload | undefined, over: Partial<WorkloadFacts> = {}): WorkloadFacts {
  const kind = (workload?.kind ?? 'Deployment') as IndexedKind;
  const usable = workload === undefined ? undefined : { state: 'usable' as const, resolved: agent, injection: podTemplateInjection(agent, selectableContainers(workload)) };
  return { kind, namespace: 'team-a', name: 'w', workload, ...(usable ? { profile: usable } : {}), ...over };
}

/** The workload as it is once the operator's injection was applied to it. */
function injected(w: Workload): Workload {
  const { injection } = podTemplateInjection(agent, selectableContainers(w));
  const config = workloadApplyConfig({ kind: w.kind as 'Deployment', namespace: 'team-a', name: 'w' }, 'agent', injection) as unknown as { spec: { template: { metadata: object; spec: object } } };
  const spec = w.spec as { template: { metadata: object; spec: { containers: Array<{ name: string }> } } };
  const injectedSpec = config.spec.template.spec as { containers?: Array<{ name: string }> };
  return {
    ...w,
    metadata: { ...w.metadata, labels: { ...w.metadata.labels, 'apiaccess.dev/injected': 'agent' } },
    spec: {
      ...spec,
      template: {
        metadata: { ...spec.template.metadata, ...config.spec.template.metadata },
        spec: { ...spec.template.spec, ...injectedSpec, containers: spec.template.spec.containers.map((c) => ({ ...c, ...injectedSpec.containers?.find((i) => i.name === c.name) })) },
      },
    },
  } as Workload;
}

describe('decideWorkload', () => {
  it('GIVEN Pods, Jobs and ReplicaSets owned by a controller that copied the label THEN they are ignored: no count, no Event', () => {
    for (const [kind, owner] of [['Pod', 'ReplicaSet'], ['Job', 'CronJob'], ['ReplicaSet', 'Deployment'], ['ReplicaSet', 'Rollout'], ['Pod', 'StatefulSet']] as const) {
      const d = decideWorkload(facts(object(kind, { owner })));
      assert.equal(d.check, 'Inherited', `${kind} owned by ${owner}`);
      assert.equal(d.binding, 'forget');
      assert.deepEqual(d.events, []);
      assert.equal(d.write, undefined);
    }
  });

  it('GIVEN a bare Pod or a bare Job with the label THEN it is unsupported, with a Warning naming what to label instead', () => {
    for (const kind of ['Pod', 'Job'] as const) {
      const d = decideWorkload(facts(object(kind)));
      assert.equal(d.check, 'Unsupported');
      assert.equal(typeof d.binding === 'object' && d.binding.state, 'unsupported');
      assert.equal(d.events[0]?.reason, 'UnsupportedWorkload');
      assert.equal(d.write, undefined);
    }
  });

  it('GIVEN an unlabelled workload that still carries the injection THEN the injection is removed', () => {
    const d = decideWorkload(facts(object('Deployment', { labels: { 'apiaccess.dev/injected': 'agent' } })));
    assert.equal(d.check, 'Unlabelled');
    assert.equal(d.write?.kind, 'remove');
    assert.match(d.write?.event.message ?? '', /label apiaccess.dev\/profile was removed/);
  });

  it('GIVEN a label naming no profile THEN a ProfileNotFound Warning, and nothing to count', () => {
    const d = decideWorkload(facts(object('Deployment'), { profile: { state: 'missing' } }));
    assert.equal(d.check, 'ProfileUnusable');
    assert.equal(d.events[0]?.reason, 'ProfileNotFound');
    assert.equal(d.write, undefined, 'nothing was injected, nothing to remove');
  });

  it('GIVEN a workload without the injection THEN it is injected once its ServiceAccount exists, and waits for it before', () => {
    const w = object('Deployment');
    assert.equal(decideWorkload(facts(w)).write?.kind, 'inject');
    const waiting = decideWorkload(facts(w, { serviceAccountExists: false }));
    assert.equal(waiting.check, 'ServiceAccountPending');
    assert.equal(waiting.write, undefined);
    assert.ok((waiting.requeueAfterMs ?? 0) > 0);
    const ready = decideWorkload(facts(w, { serviceAccountExists: true }));
    assert.equal(ready.check, 'Bound');
    assert.equal(ready.write?.kind, 'inject');
  });

  it('GIVEN a Deployment carrying the injection THEN it is bound with nothing to write and no Pods to count', () => {
    const f = facts(injected(object('Deployment')));
    const d = decideWorkload(f);
    assert.equal(d.check, 'Bound');
    assert.equal(d.write, undefined);
    assert.equal(needsStaleCount(f, d), false);
  });

  it('GIVEN a bare ReplicaSet carrying the injection THEN its Pods are counted: old ones keep it pending, none makes it bound', () => {
    const w = injected(object('ReplicaSet'));
    const first = decideWorkload(facts(w));
    assert.equal(needsStaleCount(facts(w), first), true);
    const pending = decideWorkload(facts(w, { stale: 2 }));
    assert.equal(pending.check, 'PodsPending');
    assert.match(typeof pending.binding === 'object' ? pending.binding.message : '', /^2 Pods without the current injection/);
    assert.equal(decideWorkload(facts(w, { stale: 0 })).check, 'Bound');
  });

  it('GIVEN a profile naming a container the template lacks THEN containerNotFound names what it has, and nothing is written', () => {
    const p = profile({ auth: 'Kubeconfig', containers: ['agent'] }, { name: 'agent', namespace: 'team-a' });
    const w = object('Deployment');
    const d = decideWorkload({ ...facts(w), profile: { state: 'usable', resolved: p, injection: podTemplateInjection(p, selectableContainers(w)) } });
    assert.equal(d.check, 'ContainerNotFound');
    assert.match(typeof d.binding === 'object' ? d.binding.message : '', /names agent, which the pod template does not have \(it has app\)/);
    assert.equal(d.write, undefined);
  });
});

describe('Proxy mode decisions', () => {
  const proxy = profile({ auth: 'Proxy', permissions: { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] } }, { name: 'agent', namespace: 'team-a' });
  const proxyFacts = (spec: unknown): WorkloadFacts => {
    const w = object('Deployment', { spec: { selector: { matchLabels: { app: 'x' } }, template: { metadata: {}, spec } } });
    return { kind: 'Deployment', namespace: 'team-a', name: 'w', workload: w, profile: { state: 'usable', resolved: proxy, injection: podTemplateInjection(proxy, selectableContainers(w), { proxyImage: 'img' }) } };
  };

  it('refuses a host-network Pod as unsupported, with a HostNetwork Warning and no write', () => {
    const d = decideWorkload(proxyFacts({ hostNetwork: true, containers: [{ name: 'app' }] }));
    assert.equal(d.check, 'InjectionConflict');
    assert.equal(d.write, undefined);
    assert.equal(d.binding !== 'forget' && d.binding.state, 'unsupported');
    assert.equal(d.events[0]?.reason, 'HostNetwork');
  });

  it('counts a taken proxy port as conflicted, with a ProxyPortConflict Warning and no write', () => {
    const d = decideWorkload(proxyFacts({ containers: [{ name: 'app', ports: [{ containerPort: 8001 }] }] }));
    assert.equal(d.binding !== 'forget' && d.binding.state, 'conflicted');
    assert.equal(d.events[0]?.reason, 'ProxyPortConflict');
    assert.equal(d.write, undefined);
  });

  it('injects an ordinary template, and reports a profile the operator cannot inject (no proxy image) as failed', () => {
    assert.equal(decideWorkload({ ...proxyFacts({ containers: [{ name: 'app' }] }), serviceAccountExists: true }).write?.kind, 'inject');
    const w = object('Deployment');
    const d = decideWorkload({ kind: 'Deployment', namespace: 'team-a', name: 'w', workload: w, profile: { state: 'unconfigured', reason: 'ProxyImageUnknown', message: 'no image' } });
    assert.equal(d.binding !== 'forget' && d.binding.state, 'failed');
    assert.equal(d.events[0]?.reason, 'ProxyImageUnknown');
  });
});
