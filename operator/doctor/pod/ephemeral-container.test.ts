// The ephemeral doctor container built from a Pod: what it copies from the target container (env,
// envFrom, mounts), what the API forbids it (subPath mounts), its user and security context.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { ephemeralDoctor, ephemeralName, NON_ROOT_UID } from './ephemeral-container.ts';

const RESTRICTED = { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } };

function pod(spec: V1Pod['spec']): V1Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: 'team-a' }, spec };
}

const app = {
  name: 'app',
  image: 'localhost/app:1',
  ports: [{ containerPort: 8080 }],
  readinessProbe: { httpGet: { path: '/', port: 8080 } },
  resources: { limits: { memory: '64Mi' } },
  env: [
    { name: 'KUBECONFIG', value: '/etc/apiaccess/kubeconfig' },
    { name: 'KUBERNETES_API_PROXY', value: 'http://127.0.0.1:8001' },
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'MEMORY', valueFrom: { resourceFieldRef: { resource: 'limits.memory' } } },
    { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
  ],
  envFrom: [{ configMapRef: { name: 'settings' } }],
  volumeMounts: [
    { name: 'apiaccess-reader', mountPath: '/etc/apiaccess', readOnly: true },
    { name: 'data', mountPath: '/data', mountPropagation: 'HostToContainer' },
    { name: 'config', mountPath: '/etc/app/app.yaml', subPath: 'app.yaml' },
  ],
  securityContext: { runAsUser: 1000 },
};

describe('ephemeral doctor container', () => {
  it('GIVEN a Pod THEN it targets the first app container with its env, envFrom and mounts (read-only), restricted, running doctor --json with the forwarded flags', () => {
    const built = ephemeralDoctor({ pod: pod({ containers: [app, { name: 'other', image: 'x' }], securityContext: { runAsGroup: 3000 } }), image: 'ghcr.io/api-access-operator/apiaccess:v0.1.0', name: 'apiaccess-doctor-abcde', doctorArgs: ['--can', 'list', 'pods'] });

    assert.ok(built.ok);
    assert.equal(built.target, 'app');
    assert.deepEqual(built.container, {
      name: 'apiaccess-doctor-abcde',
      image: 'ghcr.io/api-access-operator/apiaccess:v0.1.0',
      imagePullPolicy: 'IfNotPresent',
      targetContainerName: 'app',
      command: ['/usr/local/bin/apiaccess'],
      args: ['doctor', '--json', '--can', 'list', 'pods'],
      env: [
        { name: 'KUBECONFIG', value: '/etc/apiaccess/kubeconfig' },
        { name: 'KUBERNETES_API_PROXY', value: 'http://127.0.0.1:8001' },
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'MEMORY', valueFrom: { resourceFieldRef: { resource: 'limits.memory', containerName: 'app' } } },
        { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
      ],
      envFrom: [{ configMapRef: { name: 'settings' } }],
      volumeMounts: [
        { name: 'apiaccess-reader', mountPath: '/etc/apiaccess', readOnly: true },
        { name: 'data', mountPath: '/data', readOnly: true },
      ],
      securityContext: { ...RESTRICTED, runAsUser: 1000, runAsGroup: 3000 },
      terminationMessagePolicy: 'FallbackToLogsOnError',
    });
    assert.deepEqual(built.notes, ['not copied: volume config at /etc/app/app.yaml (subPath app.yaml): the API forbids subPath in ephemeral containers, so doctor cannot see /etc/app/app.yaml']);
    // The target's own spec is left as it was (copies, not references).
    assert.equal(app.env[3]?.valueFrom?.resourceFieldRef && 'containerName' in app.env[3].valueFrom.resourceFieldRef, false);
  });

  it('GIVEN --container naming a native sidecar THEN it is the target; an unknown name lists the containers', () => {
    const spec = { containers: [{ name: 'app', image: 'x' }], initContainers: [{ name: 'setup', image: 'x' }, { name: 'apiaccess-proxy', image: 'x', restartPolicy: 'Always' }] };

    const sidecar = ephemeralDoctor({ pod: pod(spec), container: 'apiaccess-proxy', image: 'i', name: 'n', doctorArgs: [] });
    const missing = ephemeralDoctor({ pod: pod(spec), container: 'setup', image: 'i', name: 'n', doctorArgs: [] });

    assert.ok(sidecar.ok);
    assert.equal(sidecar.container.targetContainerName, 'apiaccess-proxy');
    assert.match(sidecar.notes[0] ?? '', /the Proxy-mode sidecar itself/);
    assert.equal(missing.ok, false);
    assert.equal(missing.ok ? '' : missing.problem, 'Pod team-a/web-1 has no container setup; its containers: app, apiaccess-proxy (native sidecar)');
  });

  it('GIVEN a target running as root THEN doctor runs as the non-root user, with a note; no user set THEN the image decides', () => {
    const root = ephemeralDoctor({ pod: pod({ containers: [{ name: 'app', image: 'x' }], securityContext: { runAsUser: 0 } }), image: 'i', name: 'n', doctorArgs: [] });
    const unset = ephemeralDoctor({ pod: pod({ containers: [{ name: 'app', image: 'x' }] }), image: 'i', name: 'n', doctorArgs: [] });

    assert.ok(root.ok && unset.ok);
    assert.equal(root.container.securityContext?.runAsUser, NON_ROOT_UID);
    assert.match(root.notes[0] ?? '', /runs as root; doctor runs as uid 65532/);
    assert.deepEqual(unset.container.securityContext, RESTRICTED);
    assert.equal(unset.container.env, undefined);
    assert.equal(unset.container.volumeMounts, undefined);
  });

  it('GIVEN a random source THEN the name is apiaccess-doctor- and five DNS-label characters', () => {
    assert.equal(ephemeralName(() => 0), 'apiaccess-doctor-aaaaa');
    assert.equal(ephemeralName(() => 0.999), 'apiaccess-doctor-99999');
    assert.match(ephemeralName(), /^apiaccess-doctor-[a-z0-9]{5}$/);
  });
});
