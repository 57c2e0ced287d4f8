// Unmodified foreign clients (curl, Debian's kubectl, Debian's Python client) run in the pod sandbox
// as a Pod's container would, and reach the API with exactly the rights granted to that Pod.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { kubeconfigYaml } from './cluster/kubeconfig.ts';
import { kubectlPath, SYSTEM_PYTHON } from './clients.ts';
import { applyYaml, createNamespace, kubeConfig, testCluster, waitFor } from './harness.ts';
import { runInPod, type PodRunResult } from './sandbox/sandbox.ts';

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Reference seed 004 (Kubernetes docs, "Accessing the API from within a Pod"), verbatim. */
const SEED_004_COMMAND = `# Point to the internal API server hostname
APISERVER=https://kubernetes.default.svc
# Path to ServiceAccount token
SERVICEACCOUNT=/var/run/secrets/kubernetes.io/serviceaccount
# Read this Pod's namespace
NAMESPACE=$(cat \${SERVICEACCOUNT}/namespace)
# Read the ServiceAccount bearer token
TOKEN=$(cat \${SERVICEACCOUNT}/token)
# Reference the internal certificate authority (CA)
CACERT=\${SERVICEACCOUNT}/ca.crt
# Explore the API with TOKEN
curl --cacert \${CACERT} --header "Authorization: Bearer \${TOKEN}" -X GET \${APISERVER}/api`;

/** Prints the pod names, then the HTTP status of listing secrets (an ApiException), from inside the Pod. */
const pythonLister = (load: string): string => `
from kubernetes import client, config
${load}
v1 = client.CoreV1Api()
ns = "$NS"
print(" ".join(p.metadata.name for p in v1.list_namespaced_pod(ns).items))
try:
    v1.list_namespaced_secret(ns)
    print("secrets: allowed")
except client.exceptions.ApiException as e:
    print("secrets:", e.status)
`;

const core = (): CoreV1Api => kubeConfig('admin').makeApiClient(CoreV1Api);

/** The Pod the Deployment's ReplicaSet made: tests act on what the controllers produced. */
async function controllerPod(namespace: string, app: string): Promise<V1Pod> {
  return await waitFor(async () => (await core().listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items[0], {
    what: `the Pod of Deployment ${app}`,
  });
}

async function inPod(pod: V1Pod, command: string | string[]): Promise<PodRunResult> {
  return await runInPod({ pod, command, cluster: testCluster() });
}

function assertOk(result: PodRunResult): void {
  assert.equal(result.code, 0, `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
}

/**
 * Checks the host while a sandboxed command sees `inPodPath`: a client on the host would believe it
 * runs in a Pod if such a path appeared there.
 */
async function assertOnlyInPod(pod: V1Pod, inPodPath: string, hostRoot: string): Promise<void> {
  const run = inPod(pod, `ls -d ${inPodPath} && sleep 2`);
  await sleep(1_000);
  const duringRun = existsSync(hostRoot);
  const result = await run;

  assertOk(result);
  assert.equal(result.stdout.trim(), inPodPath);
  assert.equal(duringRun, false, `${hostRoot} appeared on the host during the run`);
  assert.equal(existsSync(hostRoot), false, `${hostRoot} remained on the host`);
}

function jwtClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('pod sandbox: a ServiceAccount with a Role granting list pods', () => {
  let namespace = '';
  let pod: V1Pod;

  before(async () => {
    namespace = await createNamespace('sandbox-sa');
    await applyYaml(`
apiVersion: v1
kind: ServiceAccount
metadata: {name: pod-lister, namespace: ${namespace}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: list-pods, namespace: ${namespace}}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: pod-lister-list-pods, namespace: ${namespace}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: list-pods}
subjects: [{kind: ServiceAccount, name: pod-lister, namespace: ${namespace}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: lister, namespace: ${namespace}}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector: {matchLabels: {app: lister}}
  template:
    metadata: {labels: {app: lister}}
    spec:
      serviceAccountName: pod-lister
      containers: [{name: main, image: curlimages/curl}]
`);
    pod = await controllerPod(namespace, 'lister');
  });

  it('GIVEN the exact command of reference seed 004 THEN curl reaches https://kubernetes.default.svc/api with the Pod token', async () => {
    const result = await inPod(pod, SEED_004_COMMAND);

    assertOk(result);
    const body = JSON.parse(result.stdout) as { kind: string; versions: string[] };
    assert.equal(body.kind, 'APIVersions');
    assert.deepEqual(body.versions, ['v1']);
  });

  it('GIVEN the Pod token THEN curl lists pods in its namespace and gets 403 on secrets', async () => {
    const result = await inPod(
      pod,
      `SA=${SERVICE_ACCOUNT_DIR}; NS=$(cat $SA/namespace); AUTH="Authorization: Bearer $(cat $SA/token)"
curl -sS --fail --cacert $SA/ca.crt -H "$AUTH" https://kubernetes.default.svc/api/v1/namespaces/$NS/pods
printf '\n===\n'
curl -sS -o /dev/null -w 'secrets: %{http_code}' --cacert $SA/ca.crt -H "$AUTH" https://kubernetes.default.svc/api/v1/namespaces/$NS/secrets`,
    );

    assertOk(result);
    const [pods, secrets] = result.stdout.split('\n===\n');
    assert.deepEqual((JSON.parse(pods!) as { items: V1Pod[] }).items.map((p) => p.metadata?.name), [pod.metadata?.name]);
    assert.equal(secrets, 'secrets: 403');
  });

  it('GIVEN kubectl without a kubeconfig THEN its in-cluster config lists pods and is Forbidden on secrets', async () => {
    const pods = await inPod(pod, [kubectlPath(), 'get', 'pods', '-o', 'name']);
    const secrets = await inPod(pod, [kubectlPath(), 'get', 'secrets']);

    assertOk(pods);
    assert.equal(pods.stdout.trim(), `pod/${pod.metadata?.name}`);
    assert.notEqual(secrets.code, 0);
    assert.match(secrets.stderr, new RegExp(`Forbidden.*system:serviceaccount:${namespace}:pod-lister.*cannot list resource "secrets"`));
  });

  it('GIVEN the Python client with load_incluster_config THEN it lists pods and gets 403 on secrets', async () => {
    const script = pythonLister('config.load_incluster_config()').replace('"$NS"', `open("${SERVICE_ACCOUNT_DIR}/namespace").read()`);
    const result = await inPod(pod, [SYSTEM_PYTHON, '-c', script]);

    assertOk(result);
    assert.equal(result.stdout, `${pod.metadata?.name}\nsecrets: 403\n`);
  });

  it('GIVEN the mounted token THEN it is a TokenRequest token bound to this Pod and its ServiceAccount', async () => {
    const result = await inPod(pod, `cat ${SERVICE_ACCOUNT_DIR}/token; echo; cat ${SERVICE_ACCOUNT_DIR}/namespace; echo; stat -L -c %a ${SERVICE_ACCOUNT_DIR}/token`);

    assertOk(result);
    const [token, ns, mode] = result.stdout.split('\n');
    const claims = jwtClaims(token!);
    assert.equal(claims.sub, `system:serviceaccount:${namespace}:pod-lister`);
    assert.deepEqual((claims['kubernetes.io'] as { pod: unknown }).pod, { name: pod.metadata?.name, uid: pod.metadata?.uid });
    assert.deepEqual(claims.aud, [testCluster().serviceAccount.issuer]);
    assert.equal(ns, namespace);
    assert.equal(mode, '644');
  });

  it('GIVEN a sandbox run THEN the ServiceAccount folder exists in the Pod and never on the host', async () => {
    await assertOnlyInPod(pod, SERVICE_ACCOUNT_DIR, '/var/run/secrets');
  });
});

describe('pod sandbox: the seed-000 shape, a kubeconfig ConfigMap mounted at /etc/kip', () => {
  let namespace = '';
  let pod: V1Pod;

  before(async () => {
    namespace = await createNamespace('sandbox-kip');
    const cluster = testCluster();
    // The client certificate of user kip-agent (O=apiaccess:kip), bound below to a Role that lists pods.
    const kubeconfig = await kubeconfigYaml({
      server: 'https://kubernetes.default.svc',
      caFile: cluster.caFile,
      user: 'kip-agent',
      credential: cluster.clientCerts['kip-agent'],
    });
    await applyYaml([
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kip-config', namespace }, data: { kubeconfig } },
    ]);
    await applyYaml(`
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: list-pods, namespace: ${namespace}}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: kip-agent-list-pods, namespace: ${namespace}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: list-pods}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: kip-agent}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: kip, namespace: ${namespace}}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector: {matchLabels: {app: kip}}
  template:
    metadata: {labels: {app: kip}}
    spec:
      automountServiceAccountToken: false
      containers:
      - name: kip
        image: elotl/kip
        env:
        - {name: KUBECONFIG, value: /etc/kip/kubeconfig}
        - name: NS
          valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
        volumeMounts: [{name: kip-config, mountPath: /etc/kip}]
      volumes:
      - name: kip-config
        configMap:
          name: kip-config
          defaultMode: 420
          items: [{key: kubeconfig, path: kubeconfig, mode: 384}]
`);
    pod = await controllerPod(namespace, 'kip');
  });

  it('GIVEN items mode 384 THEN the kubeconfig is mode 0600 in a read-only /etc/kip and no token is mounted', async () => {
    const result = await inPod(
      pod,
      `stat -L -c %a /etc/kip/kubeconfig; ls /etc/kip; test -e ${SERVICE_ACCOUNT_DIR} && echo token mounted || echo no token
touch /etc/kip/new 2>/dev/null && echo writable || echo read-only`,
    );

    assertOk(result);
    assert.equal(result.stdout, '600\nkubeconfig\nno token\nread-only\n');
  });

  it('GIVEN KUBECONFIG=/etc/kip/kubeconfig THEN kubectl lists pods and is Forbidden on secrets', async () => {
    const result = await inPod(pod, `"${kubectlPath()}" get pods -n "$NS" -o name && "${kubectlPath()}" get secrets -n "$NS"`);

    assert.notEqual(result.code, 0, 'listing secrets must fail');
    assert.equal(result.stdout.trim(), `pod/${pod.metadata?.name}`);
    assert.match(result.stderr, /Forbidden.*User "kip-agent" cannot list resource "secrets"/);
  });

  it('GIVEN KUBECONFIG=/etc/kip/kubeconfig THEN the Python client load_kube_config lists pods and gets 403 on secrets', async () => {
    const script = pythonLister('config.load_kube_config()').replace('"$NS"', 'os.environ["NS"]');
    const result = await inPod(pod, [SYSTEM_PYTHON, '-c', `import os\n${script}`]);

    assertOk(result);
    assert.equal(result.stdout, `${pod.metadata?.name}\nsecrets: 403\n`);
  });

  it('GIVEN a sandbox run THEN /etc/kip exists in the Pod and never on the host', async () => {
    await assertOnlyInPod(pod, '/etc/kip', '/etc/kip');
  });
});
