// Every access mode proven inside real Pods: the operator (the Pod of the synthesized Deployment)
// injects a labelled Deployment of the clients image; the kubelet mounts what the injection names;
// unmodified curl, kubectl, Python and client-go's examples then run in the container and get exactly
// the profile's rights — an allowed request succeeds and a forbidden one is refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeClient, KubeObject } from '../operator/kube/client.ts';
import { EXAMPLES_IMAGE } from '../manifests/examples.ts';
import { certificateKubeconfig, signedClientCertificate } from './certificates.ts';
import { applyYaml, createNamespace, testCluster, waitFor } from './harness.ts';
import { adminClient } from './operator-process.ts';
import { execInPod, readyPod } from './pods.ts';

const HASH = 'apiaccess.dev/config-hash';
const PROFILE = 'apiaccess.dev/profile';
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const UID = 65532;
const APP = 'app=agent';

// Tests navigate deep into objects the API server returns; `any` keeps that readable.
type Obj = KubeObject & { spec?: any; status?: any; data?: Record<string, string> };
type Pod = Awaited<ReturnType<typeof readyPod>>;

let admin: KubeClient;
let ns = '';

const profilePath = (name: string): string => `/apis/apiaccess.dev/v1alpha1/namespaces/${ns}/apiaccessprofiles/${name}`;
const deploymentPath = (name: string): string => `/apis/apps/v1/namespaces/${ns}/deployments/${name}`;
const profile = (name: string, spec: object): object => ({ apiVersion: 'apiaccess.dev/v1alpha1', kind: 'ApiAccessProfile', metadata: { name, namespace: ns }, spec });
const readerRules = [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }];

/** A long-running, non-root Deployment of the clients image; `fsGroup` as given. */
function agent(labels: Record<string, string>, pod: { fsGroup?: number } = {}): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'agent', namespace: ns, labels },
    spec: {
      replicas: 1,
      // The old Pod goes before the new one starts: tests pick the Pod of the current template.
      strategy: { type: 'Recreate' },
      selector: { matchLabels: { app: 'agent' } },
      template: {
        metadata: { labels: { app: 'agent' } },
        spec: {
          securityContext: { runAsNonRoot: true, runAsUser: UID, runAsGroup: UID, ...pod },
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'agent',
              image: EXAMPLES_IMAGE,
              imagePullPolicy: 'IfNotPresent',
              command: ['sleep', 'infinity'],
              env: [{ name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }, { name: 'HOME', value: '/tmp' }],
              resources: { requests: { cpu: '5m', memory: '16Mi' } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: {} }],
        },
      },
    },
  };
}

async function condition(name: string, type: string, status: string, reason?: string): Promise<Obj> {
  return await waitFor(
    async () => {
      const p = await admin.get<Obj>(profilePath(name));
      const c = p?.status?.conditions?.find((x: { type: string }) => x.type === type);
      return p?.status?.observedGeneration === p?.metadata.generation && c?.status === status && (reason === undefined || c.reason === reason) ? p : undefined;
    },
    { timeoutMs: 90_000, what: `${name} ${type}=${status}${reason ? ` (${reason})` : ''}` },
  );
}

/** The Deployment once its template carries a config hash other than `previous`, and a ready Pod of it. */
async function injectedPod(previous?: string): Promise<{ deployment: Obj; pod: Pod; hash: string }> {
  const deployment = await waitFor(
    async () => {
      const d = await admin.get<Obj>(deploymentPath('agent'));
      const hash = d?.spec.template.metadata?.annotations?.[HASH];
      return hash !== undefined && hash !== previous ? d : undefined;
    },
    { timeoutMs: 90_000, what: 'Deployment agent to carry a new config hash' },
  );
  const hash = deployment.spec.template.metadata.annotations[HASH] as string;
  return { deployment, pod: await readyPod(admin, ns, APP, hash, 'Deployment agent'), hash };
}

const PYTHON_LISTER = (load: string): string[] => [
  'python3',
  '-c',
  `import os
from kubernetes import client, config
${load}
v1 = client.CoreV1Api()
ns = os.environ["NS"]
print(" ".join(p.metadata.name for p in v1.list_namespaced_pod(ns).items))
try:
    v1.list_namespaced_secret(ns)
    print("secrets: allowed")
except client.exceptions.ApiException as e:
    print("secrets:", e.status)
`,
];

/** kubectl and the Python client inside the Pod: pods listed, secrets refused. */
async function assertListsPodsOnly(pod: Pod, load: 'config.load_incluster_config()' | 'config.load_kube_config()', user: RegExp): Promise<void> {
  const kubectl = await execInPod(pod, 'kubectl get pods -n "$NS" -o name && kubectl get secrets -n "$NS"');
  assert.notEqual(kubectl.code, 0, 'listing secrets must fail');
  assert.match(kubectl.stdout, new RegExp(`pod/${pod.metadata.name}`));
  assert.match(kubectl.stderr, /Forbidden/);
  assert.match(kubectl.stderr, user, kubectl.stderr);
  const python = await execInPod(pod, PYTHON_LISTER(load));
  assert.equal(python.code, 0, python.stderr);
  assert.match(python.stdout, new RegExp(`${pod.metadata.name}.*\\nsecrets: 403\\n`));
}

describe('access in real Pods, mode by mode, with the operator running as its Deployment', { concurrency: false }, () => {
  let hash: string | undefined;

  before(async () => {
    admin = adminClient();
    ns = await createNamespace('pods');
  });
  after(() => admin?.close());

  it('ServiceAccount: the seed-004 curl, kubectl and Python use the mounted Pod-bound token and get exactly the granted rights', async () => {
    await applyYaml([profile('reader', { auth: 'ServiceAccount', permissions: { rules: readerRules } }), agent({ [PROFILE]: 'reader' })]);
    const { deployment, pod, hash: current } = await injectedPod();
    hash = current;
    assert.equal(deployment.spec.template.spec.serviceAccountName, 'reader');
    assert.equal(pod.spec?.serviceAccountName, 'reader');

    // Reference seed 004, verbatim, through the `kubernetes` Service and cluster DNS, TLS verified.
    const seed = await execInPod(
      pod,
      'APISERVER=https://kubernetes.default.svc; SERVICEACCOUNT=/var/run/secrets/kubernetes.io/serviceaccount; NAMESPACE=$(cat ${SERVICEACCOUNT}/namespace); TOKEN=$(cat ${SERVICEACCOUNT}/token); CACERT=${SERVICEACCOUNT}/ca.crt; curl --silent --cacert ${CACERT} --header "Authorization: Bearer ${TOKEN}" -X GET ${APISERVER}/api',
    );
    assert.equal(seed.code, 0, seed.stderr);
    assert.equal(JSON.parse(seed.stdout).kind, 'APIVersions', seed.stdout);
    const codes = await execInPod(
      pod,
      `T=$(cat ${SA_DIR}/token); for r in pods secrets; do curl -s -o /dev/null -w "%{http_code} " --cacert ${SA_DIR}/ca.crt -H "Authorization: Bearer $T" https://kubernetes.default.svc/api/v1/namespaces/$NS/$r; done`,
    );
    assert.equal(codes.stdout.trim(), '200 403', codes.stderr);

    const claims = await execInPod(pod, `cut -d. -f2 ${SA_DIR}/token`);
    const jwt = JSON.parse(Buffer.from(claims.stdout.trim(), 'base64url').toString()) as { sub: string; 'kubernetes.io': { pod: { name: string; uid: string }; node?: { name: string } } };
    assert.equal(jwt.sub, `system:serviceaccount:${ns}:reader`);
    assert.deepEqual(jwt['kubernetes.io'].pod, { name: pod.metadata.name, uid: pod.metadata.uid }, 'the kubelet mounted a token bound to this Pod');
    assert.equal(jwt['kubernetes.io'].node?.name, pod.spec?.nodeName);

    await assertListsPodsOnly(pod, 'config.load_incluster_config()', new RegExp(`system:serviceaccount:${ns}:reader`));
    const inCluster = await execInPod(pod, ['in-cluster-client-configuration']);
    // client-go's example lists Pods cluster-wide, which a namespaced Role does not allow.
    assert.match(inCluster.stdout + inCluster.stderr, /forbidden.*cannot list resource "pods".*at the cluster scope/i);
    await condition('reader', 'Ready', 'True');
  });

  it('Kubeconfig/Generated: no token at the ServiceAccount path; kubectl and Python use the generated kubeconfig and its rotated token file', async () => {
    await applyYaml([profile('reader', { auth: 'Kubeconfig', permissions: { rules: readerRules } })]);
    const { pod, hash: current } = await injectedPod(hash);
    hash = current;
    const files = await execInPod(pod, `test -e ${SA_DIR}/token && echo token-mounted; stat -L -c '%a' /etc/apiaccess/kubeconfig; echo $KUBECONFIG; grep -c 'token:' /etc/apiaccess/kubeconfig || true`);
    assert.equal(files.stdout, '644\n/etc/apiaccess/kubeconfig\n0\n', files.stderr);
    await assertListsPodsOnly(pod, 'config.load_kube_config()', new RegExp(`system:serviceaccount:${ns}:reader`));
    const outOfCluster = await execInPod(pod, ['out-of-cluster-client-configuration', '-kubeconfig', '/etc/apiaccess/kubeconfig']);
    assert.match(outOfCluster.stdout + outOfCluster.stderr, /forbidden.*at the cluster scope/i, 'client-go reads the generated kubeconfig and is refused beyond the grant');
    // The default 3607 s is the kubelet's own lifetime, which the API server extends to a year for a
    // Pod-bound token: clients that read the token once keep working (decision 0017).
    const claims = await execInPod(pod, 'cut -d. -f2 /etc/apiaccess/token');
    const jwt = JSON.parse(Buffer.from(claims.stdout.trim(), 'base64url').toString()) as { iat: number; exp: number };
    assert.ok(jwt.exp - jwt.iat > 300 * 86_400, `the projected token lives ${jwt.exp - jwt.iat} s`);
    const compatible = await condition('reader', 'ClientsCompatible', 'True', 'AllClientsRotate');
    assert.ok(compatible);
    await condition('reader', 'Ready', 'True');
  });

  it('Kubeconfig/ConfigMap (seed 000): a non-root container without fsGroup cannot read the 0600 file; status and an Event say which container and the fix', async () => {
    const { certificate, key } = await signedClientCertificate(admin, { user: `kip-agent-${ns}`, groups: ['apiaccess:kip'] });
    const kubeconfig = await certificateKubeconfig({ server: 'https://kubernetes.default.svc', caFile: testCluster().caFile, user: 'kip', certificate, key });
    await applyYaml([
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kip-config', namespace: ns }, data: { kubeconfig } },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'kip-agent', namespace: ns }, rules: readerRules },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'kip-agent', namespace: ns },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'kip-agent' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: `kip-agent-${ns}` }],
      },
      profile('reader', { auth: 'Kubeconfig', kubeconfig: { source: 'ConfigMap', name: 'kip-config', mountPath: '/etc/kip', fileMode: 384 }, permissions: { rules: readerRules } }),
    ]);
    const unreadable = await condition('reader', 'WorkloadsBound', 'False', 'KubeconfigUnreadable');
    const message = unreadable.status.conditions.find((c: { type: string }) => c.type === 'WorkloadsBound').message as string;
    assert.match(message, /container agent runs as uid 65532 .*cannot read \/etc\/kip\/kubeconfig \(mode 0600.*fsGroup/);
    const event = await waitFor(async () => {
      const list = await admin.request<{ items: Array<{ reason: string; type: string; involvedObject: { kind: string; name: string } }> }>('GET', `/api/v1/namespaces/${ns}/events`);
      return list.items.find((e) => e.involvedObject.kind === 'Deployment' && e.involvedObject.name === 'agent' && e.reason === 'KubeconfigUnreadable');
    }, { what: 'a KubeconfigUnreadable Event on Deployment agent' });
    assert.equal(event.type, 'Warning');
    // And the kubelet agrees: the injected Pod really cannot read the file.
    const { pod, hash: current } = await injectedPod(hash);
    hash = current;
    const denied = await execInPod(pod, 'cat /etc/kip/kubeconfig');
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /Permission denied/);
  });

  it('Kubeconfig/ConfigMap with fsGroup: the same 0600 kubeconfig is readable; kubectl and Python act as the certificate\'s user', async () => {
    await applyYaml([agent({ [PROFILE]: 'reader' }, { fsGroup: UID })]);
    await condition('reader', 'WorkloadsBound', 'True', 'AllBound');
    const pod = await waitFor(async () => {
      const p = await readyPod(admin, ns, APP, hash, 'Deployment agent');
      return p.spec?.securityContext?.fsGroup === UID ? p : undefined;
    }, { timeoutMs: 120_000, what: 'a Pod with fsGroup' });
    const files = await execInPod(pod, `stat -L -c '%a %g' /etc/kip/kubeconfig; test -e ${SA_DIR}/token && echo token-mounted || echo no-token`);
    assert.equal(files.stdout, `640 ${UID}\nno-token\n`, 'the kubelet gave the 0600 file to fsGroup with group read');
    await assertListsPodsOnly(pod, 'config.load_kube_config()', new RegExp(`User "kip-agent-${ns}"`));
    await condition('reader', 'AccessVerified', 'True');
    await condition('reader', 'CredentialsProtected', 'False', 'CredentialsInConfigMap');
  });

  it('Kubeconfig/Secret: the kubelet mounts the Secret the operator never reads; the clients use it', async () => {
    const cm = await admin.get<Obj>(`/api/v1/namespaces/${ns}/configmaps/kip-config`);
    await applyYaml([
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'kip-secret', namespace: ns }, stringData: { kubeconfig: cm?.data?.kubeconfig ?? '' } },
      profile('reader', { auth: 'Kubeconfig', kubeconfig: { source: 'Secret', name: 'kip-secret', mountPath: '/etc/kip' }, permissions: { rules: readerRules } }),
    ]);
    const { deployment, pod } = await injectedPod(hash);
    assert.equal(deployment.spec.template.spec.volumes.find((v: { secret?: unknown }) => v.secret !== undefined)?.secret.secretName, 'kip-secret');
    await condition('reader', 'CredentialsReady', 'True', 'SecretNotInspected');
    await assertListsPodsOnly(pod, 'config.load_kube_config()', new RegExp(`User "kip-agent-${ns}"`));
    // The certificate's user is not the ServiceAccount: the operator cannot know it, so it says so
    // instead of checking the ServiceAccount in its place, and the profile is still Ready.
    const p = await condition('reader', 'AccessVerified', 'Unknown', 'NotInspected');
    assert.match(p.status.conditions.find((c: { type: string }) => c.type === 'AccessVerified').message, /Secret kip-secret is not inspected/);
    await condition('reader', 'Ready', 'True');
  });
});
