// doctor --pod's API steps against a real API server (no kubelet needed): the ephemeral container it
// builds passes the API server's validation and the restricted Pod Security admission, a subPath
// mount would not, the missing rights are named, and waiting on a container that never starts ends
// with a clear timeout. The Pod is kept unschedulable, so it stays Pending with or without a node;
// running doctor for real in a Pod is test/doctor.test.ts's.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { V1EphemeralContainer, V1Pod } from '@kubernetes/client-node';
import { applyYaml, createNamespace, kubeConfig, waitFor } from '../../../test/harness.ts';
import { KubeClient } from '../../kube/client.ts';
import { ephemeralDoctor, ephemeralName } from './ephemeral-container.ts';
import { addEphemeralContainer, PodDoctorError, runDoctorInPod, waitForTermination } from './run-in-pod.ts';

const POD = 'web-1';
const IMAGE = 'localhost/apiaccess-doctor-test-never-pulled:none';

let admin: KubeClient;
let alice: KubeClient;
let ns = '';

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  assert.fail('expected a rejection');
}

const podPath = (): string => `/api/v1/namespaces/${ns}/pods/${POD}`;
const options = (): Parameters<typeof runDoctorInPod>[1] => ({ namespace: ns, pod: POD, image: IMAGE, name: ephemeralName(), doctorArgs: [], timeoutMs: 2000, pollMs: 200, say: () => undefined });

describe('doctor --pod against the API server', { concurrency: false }, () => {
  before(async () => {
    admin = KubeClient.fromKubeConfig(kubeConfig('admin'));
    alice = KubeClient.fromKubeConfig(kubeConfig('alice'));
    ns = await createNamespace('doctor-pod');
    // Restricted enforcement: the ephemeral container must satisfy it like any container.
    await applyYaml([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } }]);
    // ServiceAccount admission refuses Pods (and ephemeral containers) before `default` exists.
    await waitFor(async () => await admin.get(`/api/v1/namespaces/${ns}/serviceaccounts/default`), { what: 'ServiceAccount default', timeoutMs: 60_000 });
    await applyYaml(`
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: ${ns}}
data: {MODE: test}
---
apiVersion: v1
kind: Pod
metadata: {name: ${POD}, namespace: ${ns}}
spec:
  nodeSelector: {apiaccess.dev/no-such-node: "true"}
  securityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: app
    image: ${IMAGE}
    imagePullPolicy: Never
    env:
    - {name: KUBECONFIG, value: /etc/apiaccess/kubeconfig}
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: MEMORY, valueFrom: {resourceFieldRef: {resource: limits.memory}}}
    envFrom: [{configMapRef: {name: settings}}]
    resources: {limits: {memory: 64Mi}}
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
    volumeMounts:
    - {name: apiaccess, mountPath: /etc/apiaccess, readOnly: true}
    - {name: settings, mountPath: /etc/app/mode, subPath: MODE}
  volumes:
  - {name: apiaccess, emptyDir: {}}
  - {name: settings, configMap: {name: settings}}
`);
  });

  after(() => {
    admin?.close();
    alice?.close();
  });

  it('GIVEN a Pending Pod THEN doctor --pod refuses before adding anything, saying why', async () => {
    const error = await rejection(runDoctorInPod(admin, options()));

    assert.ok(error instanceof PodDoctorError, String(error));
    assert.equal(error.message, `Pod ${ns}/${POD} is Pending (not started on a node yet): an ephemeral container runs only in a running Pod`);
    const pod = await admin.request<V1Pod>('GET', podPath());
    assert.equal(pod.spec?.ephemeralContainers, undefined);
  });

  it('GIVEN a Pod that does not exist THEN it is named', async () => {
    const error = await rejection(runDoctorInPod(admin, { ...options(), pod: 'web-9' }));
    assert.match(error.message, new RegExp(`^Pod ${ns}/web-9 not found`));
  });

  it('GIVEN the built ephemeral container THEN the API server and restricted admission accept it as built, and waiting for it times out naming it', async () => {
    const pod = await admin.request<V1Pod>('GET', podPath());
    const name = ephemeralName();
    const built = ephemeralDoctor({ pod, image: IMAGE, name, doctorArgs: ['--can', 'list', 'pods'] });
    assert.ok(built.ok);
    assert.deepEqual(built.notes, ['not copied: volume settings at /etc/app/mode (subPath MODE): the API forbids subPath in ephemeral containers, so doctor cannot see /etc/app/mode']);

    await addEphemeralContainer(admin, { namespace: ns, pod: POD }, built.container);
    const stored = (await admin.request<V1Pod>('GET', podPath())).spec?.ephemeralContainers?.find((c) => c.name === name);
    const error = await rejection(waitForTermination(admin, { namespace: ns, pod: POD, name, image: IMAGE, timeoutMs: 1500, pollMs: 200 }));

    assert.ok(stored, 'the ephemeral container is in the Pod spec');
    assert.deepEqual(
      { target: stored.targetContainerName, args: stored.args, env: stored.env, envFrom: stored.envFrom, mounts: stored.volumeMounts, securityContext: stored.securityContext },
      { target: 'app', args: built.container.args, env: built.container.env, envFrom: built.container.envFrom, mounts: built.container.volumeMounts, securityContext: built.container.securityContext },
    );
    assert.match(error.message, new RegExp(`^timed out after 2 s: ephemeral container ${name} in Pod ${ns}/${POD} is not started yet \\(kubectl describe pod ${POD} -n ${ns}`));
  });

  it('GIVEN a subPath mount in an ephemeral container THEN the API server refuses it (why doctor leaves such mounts out)', async () => {
    const pod = await admin.request<V1Pod>('GET', podPath());
    const built = ephemeralDoctor({ pod, image: IMAGE, name: ephemeralName(), doctorArgs: [] });
    assert.ok(built.ok);
    const withSubPath: V1EphemeralContainer = { ...built.container, volumeMounts: [{ name: 'settings', mountPath: '/etc/app/mode', subPath: 'MODE', readOnly: true }] };

    const error = await rejection(addEphemeralContainer(admin, { namespace: ns, pod: POD }, withSubPath));

    assert.match(error.message, /^the API server rejected the ephemeral container for Pod .*subPath: Forbidden: cannot be set for an Ephemeral Container/);
  });

  it('GIVEN a user without rights THEN get pods is named; with get pods granted THEN patch pods/ephemeralcontainers is', async () => {
    const noGet = await rejection(runDoctorInPod(alice, options()));
    await applyYaml(`
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: read-pods, namespace: ${ns}}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-read-pods, namespace: ${ns}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: read-pods}
subjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
`);
    const pod = await waitFor(async () => await alice.request<V1Pod>('GET', podPath()).catch(() => undefined), { what: 'alice may get the Pod', timeoutMs: 30_000 });
    const built = ephemeralDoctor({ pod, image: IMAGE, name: ephemeralName(), doctorArgs: [] });
    assert.ok(built.ok);
    const noPatch = await rejection(addEphemeralContainer(alice, { namespace: ns, pod: POD }, built.container));

    assert.match(noGet.message, new RegExp(`^may not get pods in namespace ${ns}: .*User "alice" cannot get resource "pods".*; grant a Role rule \\{apiGroups: \\[""\\], resources: \\["pods"\\], verbs: \\["get"\\]\\}`));
    assert.match(noPatch.message, new RegExp(`^may not patch pods/ephemeralcontainers in namespace ${ns}: .*; grant a Role rule \\{apiGroups: \\[""\\], resources: \\["pods/ephemeralcontainers"\\], verbs: \\["patch"\\]\\}`));
  });

  it('GIVEN a log request with the client\'s Accept: application/json THEN the API server answers it (no 406), here with an empty log', async () => {
    const log = await admin.request<unknown>('GET', `${podPath()}/log`, { query: { container: 'app' } });
    assert.ok(log === undefined || log === '', `unexpected log answer: ${JSON.stringify(log)}`);
  });
});
