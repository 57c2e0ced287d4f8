import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ApiAccessProfileSpecInput } from '../../crds/apiaccessprofile.ts';
import { ProxyRulesFileSchema } from '../proxy/rules-file.ts';
import { profile } from './fixtures.ts';
import { injectionConflicts } from './injection-conflicts.ts';
import { podTemplateInjection } from './pod-template.ts';
import { desiredProxyConfigMap, proxyRules } from './proxy.ts';

const IMAGE = 'example.org/apiaccess:v1';
const reader = { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] };
const proxySpec = (extra: Partial<ApiAccessProfileSpecInput> = {}): ApiAccessProfileSpecInput => ({ auth: 'Proxy', permissions: { rules: [reader] }, ...extra });
const inject = (spec: ApiAccessProfileSpecInput, pod = { containers: ['app', 'worker'], nativeSidecars: [] as string[] }) => podTemplateInjection(profile(spec), pod, { proxyImage: IMAGE });

describe('Proxy mode injection', () => {
  it('puts the proxy sidecar first among the init containers, as a restricted native sidecar with requests and limits', () => {
    const { injection } = inject(proxySpec(), { containers: ['app'], nativeSidecars: ['log-shipper'] });
    const [sidecar, shipper] = injection.spec.initContainers ?? [];
    assert.equal(sidecar?.name, 'apiaccess-proxy');
    assert.equal(shipper?.name, 'log-shipper');
    const c = sidecar as Record<string, any>;
    assert.equal(c.restartPolicy, 'Always');
    assert.equal(c.image, IMAGE);
    assert.deepEqual(c.args.slice(0, 2), ['proxy', '--port=8001']);
    assert.deepEqual(c.securityContext, { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
    assert.deepEqual(c.resources, { requests: { cpu: '10m', memory: '48Mi' }, limits: { cpu: '500m', memory: '128Mi' } });
    assert.ok(c.startupProbe.exec.command.includes('--probe'));
  });

  it('gives only the sidecar the token; app containers get a kubeconfig pointing at the proxy, KUBECONFIG and KUBERNETES_API_PROXY', () => {
    const { injection } = inject(proxySpec({ proxy: { port: 9100 } }));
    assert.equal(injection.spec.automountServiceAccountToken, false);
    const [apps, sidecarVolume] = injection.spec.volumes ?? [];
    assert.deepEqual(apps, { name: 'apiaccess-agent', projected: { defaultMode: 420, sources: [{ configMap: { name: 'apiaccess-agent-kubeconfig', items: [{ key: 'kubeconfig', path: 'kubeconfig', mode: 420 }] } }] } });
    const sources = sidecarVolume?.projected?.sources ?? [];
    assert.deepEqual(sources[0], { serviceAccountToken: { path: 'token', expirationSeconds: 3600 } });
    assert.deepEqual(sources[2], { configMap: { name: 'apiaccess-agent-proxy', items: [{ key: 'rules.json', path: 'rules.json' }] } });
    const env = [
      { name: 'KUBECONFIG', value: '/etc/apiaccess/kubeconfig' },
      { name: 'KUBERNETES_API_PROXY', value: 'http://127.0.0.1:9100' },
    ];
    assert.deepEqual(injection.spec.containers, [
      { name: 'app', env, volumeMounts: [{ name: 'apiaccess-agent', mountPath: '/etc/apiaccess', readOnly: true }] },
      { name: 'worker', env, volumeMounts: [{ name: 'apiaccess-agent', mountPath: '/etc/apiaccess', readOnly: true }] },
    ]);
    const sidecar = injection.spec.initContainers?.[0];
    assert.deepEqual(sidecar?.volumeMounts, [{ name: 'apiaccess-agent-proxy', mountPath: '/var/run/apiaccess-proxy', readOnly: true }]);
  });

  it('never selects its own sidecar, even once the template carries it', () => {
    const { injection } = inject(proxySpec(), { containers: ['app'], nativeSidecars: ['apiaccess-proxy'] });
    assert.deepEqual(injection.spec.initContainers?.map((c) => c.name), ['apiaccess-proxy']);
    assert.equal(injection.spec.initContainers?.[0]?.env.some((e) => e.name === 'KUBECONFIG'), false);
  });

  it('refuses to build a sidecar without an image', () => {
    assert.throws(() => podTemplateInjection(profile(proxySpec()), ['app']), /proxy image/);
  });

  it('changes the config-hash when the port or image changes, so workloads roll out', () => {
    const a = inject(proxySpec()).hash;
    assert.notEqual(inject(proxySpec({ proxy: { port: 8002 } })).hash, a);
    assert.notEqual(podTemplateInjection(profile(proxySpec()), ['app', 'worker'], { proxyImage: 'other:v2' }).hash, a);
  });
});

describe('the proxy rules file', () => {
  it('carries the inline rules then each referenced ClusterRole\'s, and names the ones not found', () => {
    const p = profile(proxySpec({ permissions: { scope: 'Cluster', rules: [reader], clusterRoles: ['view', 'gone'] } }));
    const view = [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get'] }];
    const rules = proxyRules(p, new Map([['view', view], ['gone', undefined]]));
    assert.deepEqual(rules, { version: 1, profile: 'team-a/agent', user: 'system:serviceaccount:team-a:agent', scope: 'Cluster', namespace: 'team-a', rules: [reader, ...view], missingClusterRoles: ['gone'] });
    const cm = desiredProxyConfigMap(p, new Map([['view', view]]));
    assert.equal(cm?.metadata?.name, 'apiaccess-agent-proxy');
    assert.equal(ProxyRulesFileSchema.safeParse(JSON.parse(cm?.data?.['rules.json'] ?? '')).success, true);
  });

  it('is not made outside Proxy mode', () => {
    assert.equal(desiredProxyConfigMap(profile({ auth: 'Kubeconfig' }), new Map()), undefined);
  });
});

describe('injection conflicts, found before writing', () => {
  const template = (spec: Record<string, unknown>) => ({ spec: { containers: [{ name: 'app' }], ...spec } });
  const conflicts = (spec: ApiAccessProfileSpecInput, t: ReturnType<typeof template>) => {
    const p = profile(spec);
    return injectionConflicts(p, t as never, podTemplateInjection(p, ['app'], { proxyImage: IMAGE })).map((c) => c.kind);
  };

  it('refuses a Pod on the host network in Proxy mode, not in Kubeconfig mode', () => {
    assert.deepEqual(conflicts(proxySpec(), template({ hostNetwork: true })), ['HostNetwork']);
    assert.deepEqual(conflicts({ auth: 'Kubeconfig' }, template({ hostNetwork: true })), []);
  });

  it('refuses a proxy port that a container (or an init container) declares', () => {
    assert.deepEqual(conflicts(proxySpec(), template({ containers: [{ name: 'app', ports: [{ containerPort: 8001 }] }] })), ['ProxyPortConflict']);
    assert.deepEqual(conflicts(proxySpec(), template({ initContainers: [{ name: 'init', ports: [{ containerPort: 8001 }] }] })), ['ProxyPortConflict']);
    assert.deepEqual(conflicts(proxySpec({ proxy: { port: 8002 } }), template({ containers: [{ name: 'app', ports: [{ containerPort: 8001 }] }] })), []);
  });

  it('refuses a selected container that already mounts something at or under the kubeconfig path', () => {
    const mounting = (mountPath: string) => template({ containers: [{ name: 'app', volumeMounts: [{ name: 'config', mountPath }] }] });
    assert.deepEqual(conflicts({ auth: 'Kubeconfig' }, mounting('/etc/apiaccess')), ['MountPathConflict']);
    assert.deepEqual(conflicts(proxySpec(), mounting('/etc/apiaccess/kubeconfig')), ['MountPathConflict']);
    assert.deepEqual(conflicts({ auth: 'Kubeconfig' }, mounting('/etc')), []);
    assert.deepEqual(conflicts({ auth: 'Kubeconfig' }, mounting('/etc/apiaccess-other')), []);
    // Its own mount, as the cache shows it once injected, is no conflict.
    assert.deepEqual(conflicts({ auth: 'Kubeconfig' }, template({ containers: [{ name: 'app', volumeMounts: [{ name: 'apiaccess-agent', mountPath: '/etc/apiaccess' }] }] })), []);
  });
});
