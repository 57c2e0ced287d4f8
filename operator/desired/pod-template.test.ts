import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ApiAccessProfileSpecInput } from '../../crds/apiaccessprofile.ts';
import { profile } from './fixtures.ts';
import { podTemplateInjection } from './pod-template.ts';

const inject = (spec: ApiAccessProfileSpecInput, containers = ['app', 'sidecar']) => podTemplateInjection(profile(spec), containers);

describe('pod-template injection', () => {
  it('ServiceAccount mode: the ServiceAccount (and its deprecated alias) with the token mounted, nothing else', () => {
    const { injection } = inject({ auth: 'ServiceAccount' });
    assert.deepEqual(injection.spec, { serviceAccountName: 'agent', serviceAccount: 'agent', automountServiceAccountToken: true });
    assert.match(injection.metadata.annotations['apiaccess.dev/config-hash'] ?? '', /^[0-9a-f]{16}$/);
  });

  it('Kubeconfig/Generated: a projected volume of the kubeconfig, a bound token and kube-root-ca.crt; no automounted token', () => {
    const { injection } = inject({ auth: 'Kubeconfig', kubeconfig: { tokenExpirationSeconds: 7200, audience: 'api' } });
    assert.equal(injection.spec.automountServiceAccountToken, false);
    assert.equal(injection.spec.serviceAccountName, 'agent');
    assert.deepEqual(injection.spec.volumes, [
      {
        name: 'apiaccess-agent',
        projected: {
          defaultMode: 420,
          sources: [
            { configMap: { name: 'apiaccess-agent-kubeconfig', items: [{ key: 'kubeconfig', path: 'kubeconfig', mode: 420 }] } },
            { serviceAccountToken: { path: 'token', expirationSeconds: 7200, audience: 'api' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          ],
        },
      },
    ]);
    const mount = { name: 'apiaccess-agent', mountPath: '/etc/apiaccess', readOnly: true };
    const env = { name: 'KUBECONFIG', value: '/etc/apiaccess/kubeconfig' };
    assert.deepEqual(injection.spec.containers, [
      { name: 'app', env: [env], volumeMounts: [mount] },
      { name: 'sidecar', env: [env], volumeMounts: [mount] },
    ]);
  });

  it('Kubeconfig/ConfigMap: the seed-000 volume shape (items key -> kubeconfig, mode 0600, defaultMode 0644)', () => {
    const { injection } = inject({ auth: 'Kubeconfig', kubeconfig: { source: 'ConfigMap', name: 'kip-config', mountPath: '/etc/kip' } }, ['kip']);
    assert.deepEqual(injection.spec.volumes, [
      { name: 'apiaccess-agent', configMap: { name: 'kip-config', items: [{ key: 'kubeconfig', path: 'kubeconfig', mode: 384 }], defaultMode: 420 } },
    ]);
    assert.deepEqual(injection.spec.containers, [
      { name: 'kip', env: [{ name: 'KUBECONFIG', value: '/etc/kip/kubeconfig' }], volumeMounts: [{ name: 'apiaccess-agent', mountPath: '/etc/kip', readOnly: true }] },
    ]);
  });

  it('Kubeconfig/Secret: a secret volume of the user\'s Secret with the chosen key and mode', () => {
    const { injection } = inject({ auth: 'Kubeconfig', kubeconfig: { source: 'Secret', name: 'agent-kubeconfig', key: 'config', fileMode: 256 } });
    assert.deepEqual(injection.spec.volumes, [
      { name: 'apiaccess-agent', secret: { secretName: 'agent-kubeconfig', items: [{ key: 'config', path: 'kubeconfig', mode: 256 }], defaultMode: 420 } },
    ]);
  });

  it('env names the variable and points it at <mountPath>/kubeconfig', () => {
    const { injection } = inject({ auth: 'Kubeconfig', kubeconfig: { env: 'AGENT_KUBECONFIG', mountPath: '/var/lib/agent/' } }, ['app']);
    assert.deepEqual(injection.spec.containers?.[0]?.env, [{ name: 'AGENT_KUBECONFIG', value: '/var/lib/agent/kubeconfig' }]);
    assert.equal(injection.spec.containers?.[0]?.volumeMounts[0]?.mountPath, '/var/lib/agent');
  });

  it('containers selects which containers get the mount and env, and reports names the template lacks', () => {
    const result = inject({ auth: 'Kubeconfig', containers: ['sidecar', 'ghost'] });
    assert.deepEqual(result.injection.spec.containers?.map((c) => c.name), ['sidecar']);
    assert.deepEqual(result.missingContainers, ['ghost']);
  });

  it('serviceAccount.name replaces the profile name as identity', () => {
    const { injection } = inject({ auth: 'ServiceAccount', serviceAccount: { name: 'legacy', create: false } });
    assert.equal(injection.spec.serviceAccountName, 'legacy');
    assert.equal(injection.spec.serviceAccount, 'legacy');
  });

  it('the config hash changes with every injected setting and only then', () => {
    const base = inject({ auth: 'Kubeconfig' }).hash;
    assert.equal(inject({ auth: 'Kubeconfig', kubeconfig: {} }).hash, base, 'defaults spelled out do not change it');
    assert.equal(inject({ auth: 'Kubeconfig', permissions: { rules: [{ resources: ['pods'], verbs: ['get'] }] } }).hash, base, 'RBAC is not in the pod template');
    const changed = [
      inject({ auth: 'ServiceAccount' }).hash,
      inject({ auth: 'Kubeconfig', kubeconfig: { mountPath: '/etc/x' } }).hash,
      inject({ auth: 'Kubeconfig', kubeconfig: { fileMode: 256 } }).hash,
      inject({ auth: 'Kubeconfig', kubeconfig: { server: 'https://10.0.0.1:6443' } }).hash,
      inject({ auth: 'Kubeconfig', containers: ['app'] }).hash,
    ];
    assert.equal(new Set([base, ...changed]).size, changed.length + 1);
  });
});

describe('native sidecars in the container selection', () => {
  // A pod template with app container `app`, native sidecar `log-shipper` and ordinary init container `migrate`.
  const pod = { containers: ['app'], nativeSidecars: ['log-shipper'] };
  const env = { name: 'KUBECONFIG', value: '/etc/apiaccess/kubeconfig' };
  const mount = { name: 'apiaccess-agent', mountPath: '/etc/apiaccess', readOnly: true };

  it('GIVEN a native sidecar and an ordinary init container WHEN the profile names no containers THEN the sidecar gets the env and mount under initContainers, as the app container does', () => {
    const { injection, missingContainers } = podTemplateInjection(profile({ auth: 'Kubeconfig' }), pod);
    assert.deepEqual(injection.spec.containers, [{ name: 'app', env: [env], volumeMounts: [mount] }]);
    assert.deepEqual(injection.spec.initContainers, [{ name: 'log-shipper', env: [env], volumeMounts: [mount] }]);
    assert.deepEqual(missingContainers, []);
  });

  it('GIVEN spec.containers names only the native sidecar WHEN injected THEN only the sidecar gets them and nothing is missing', () => {
    const { injection, missingContainers } = podTemplateInjection(profile({ auth: 'Kubeconfig', containers: ['log-shipper'] }), pod);
    assert.equal(injection.spec.containers, undefined);
    assert.deepEqual(injection.spec.initContainers?.map((c) => c.name), ['log-shipper']);
    assert.deepEqual(missingContainers, []);
  });

  it('GIVEN spec.containers names the ordinary init container WHEN injected THEN it is reported missing (only app containers and native sidecars are selectable)', () => {
    const { injection, missingContainers } = podTemplateInjection(profile({ auth: 'Kubeconfig', containers: ['app', 'migrate'] }), pod);
    assert.deepEqual(injection.spec.containers?.map((c) => c.name), ['app']);
    assert.equal(injection.spec.initContainers, undefined);
    assert.deepEqual(missingContainers, ['migrate']);
  });

  it('GIVEN ServiceAccount mode WHEN injected THEN no container is touched, sidecar or not', () => {
    const { injection } = podTemplateInjection(profile({ auth: 'ServiceAccount' }), pod);
    assert.deepEqual(injection.spec, { serviceAccountName: 'agent', serviceAccount: 'agent', automountServiceAccountToken: true });
  });

  it('GIVEN a pod without native sidecars WHEN injected THEN the config hash equals the one of its plain container list (workloads do not roll out for nothing)', () => {
    const spec = { auth: 'Kubeconfig' } as const;
    assert.equal(podTemplateInjection(profile(spec), { containers: ['app'], nativeSidecars: [] }).hash, podTemplateInjection(profile(spec), ['app']).hash);
    assert.notEqual(podTemplateInjection(profile(spec), pod).hash, podTemplateInjection(profile(spec), ['app']).hash, 'adding a sidecar rolls out');
  });
});

describe('the user kubeconfig digest', () => {
  it('GIVEN a ConfigMap source whose content the operator read THEN its digest is an annotation of its own and the config-hash stays the construct\'s', () => {
    const p = profile({ auth: 'Kubeconfig', kubeconfig: { source: 'ConfigMap', name: 'kc' } });
    const plain = podTemplateInjection(p, ['app']);
    const read = podTemplateInjection(p, ['app'], { sourceDigest: 'abc' });
    assert.equal(read.hash, plain.hash);
    assert.equal(read.injection.metadata.annotations['apiaccess.dev/kubeconfig-digest'], 'abc');
    assert.equal(plain.injection.metadata.annotations['apiaccess.dev/kubeconfig-digest'], undefined);
    assert.notDeepEqual(podTemplateInjection(p, ['app'], { sourceDigest: 'def' }).injection.metadata, read.injection.metadata, 'an edit changes the template');
  });
});
