// The local cluster behaves as a real cluster does where this project relies on it: controllers
// run, the garbage collector collects, namespaces are provisioned, RBAC and admission are enforced,
// the users described in cluster.json are who they claim, and its node runs Pods that resolve
// `kubernetes.default.svc` and reach the API server through the `kubernetes` Service.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AppsV1Api, CoreV1Api, type V1ObjectMeta, type V1Pod } from '@kubernetes/client-node';
import { CLIENTS_IMAGE_REF, CLIENTS_NONROOT_UID, ensureClientsImage } from './images/clients-image.ts';
import { importImage } from './images/load.ts';
import { PAUSE_IMAGE_REF } from './images/pause.ts';
import { apiRequest } from './cluster/api-request.ts';
import { runHost } from './cluster/host-command.ts';
import { nodePaths, RUNC_BINARY } from './cluster/node-config.ts';
import {
  applyYaml,
  createNamespace,
  deleteAndWait,
  isStatus,
  kubeConfig,
  kubectl,
  testCluster,
  waitFor,
  type UserName,
} from './harness.ts';

const core = (user: UserName = 'admin'): CoreV1Api => kubeConfig(user).makeApiClient(CoreV1Api);
const admin = (): { server: string; caFile: string; token: string } => ({
  server: testCluster().server,
  caFile: testCluster().caFile,
  token: testCluster().tokens.admin,
});

async function apiJsonAdmin<T>(path: string, body?: unknown): Promise<T> {
  const res = await apiRequest(admin(), body === undefined ? 'GET' : 'POST', path, body);
  if (res.status < 200 || res.status > 299) throw new Error(`${path} answered ${res.status}: ${res.body.slice(0, 300)}`);
  return JSON.parse(res.body) as T;
}

interface AuditEvent {
  readonly level: string;
  readonly stage: string;
  readonly user: { readonly username: string; readonly extra?: Record<string, string[]> };
  readonly objectRef?: { readonly resource?: string; readonly namespace?: string };
  readonly responseStatus?: { readonly code?: number };
}
const apps = (): AppsV1Api => kubeConfig('admin').makeApiClient(AppsV1Api);

function ownedBy(meta: V1ObjectMeta | undefined, uid: string | undefined): boolean {
  return (meta?.ownerReferences ?? []).some((ref) => ref.uid === uid);
}

async function defaultServiceAccount(namespace: string): Promise<void> {
  // Pods are rejected until it exists; waiting spares the ReplicaSet controller's retry backoff.
  await waitFor(async () => await core().readNamespacedServiceAccount({ name: 'default', namespace }), {
    what: `ServiceAccount default in ${namespace}`,
  });
}

function deploymentYaml(namespace: string, name: string): string {
  return `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  replicas: 1
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers: [{name: main, image: ${PAUSE_IMAGE_REF}, imagePullPolicy: Never}]
`;
}

function node(): NonNullable<ReturnType<typeof testCluster>['node']> {
  const info = testCluster().node;
  if (!info) throw new Error('The shared test cluster has no node: test/run.ts starts it with one');
  return info;
}

async function runningPod(namespace: string, name: string): Promise<V1Pod> {
  await defaultServiceAccount(namespace);
  await applyYaml([
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace },
      spec: { containers: [{ name: 'main', image: PAUSE_IMAGE_REF, imagePullPolicy: 'Never' }] },
    },
  ]);
  return await waitFor(
    async () => {
      const pod = await core().readNamespacedPod({ name, namespace });
      return pod.status?.phase === 'Running' ? pod : undefined;
    },
    { timeoutMs: 60_000, what: `Pod ${namespace}/${name} to run` },
  );
}

/** The PID of a Pod's container on the host, from runc's own state. */
async function containerPid(pod: V1Pod): Promise<number> {
  const id = pod.status?.containerStatuses?.[0]?.containerID?.replace(/^containerd:\/\//, '');
  if (!id) throw new Error(`Pod ${pod.metadata?.name} has no container ID yet`);
  const state = await runHost(RUNC_BINARY, ['--root', join(nodePaths(testCluster().dir).runcRoot, 'k8s.io'), 'state', id]);
  if (state.code !== 0) throw new Error(`runc state ${id} failed: ${state.stderr}`);
  return (JSON.parse(state.stdout) as { pid: number }).pid;
}

/** The clients image in the node's containerd (imported once per test process; skipped when already there). */
let clientsImported: Promise<void> | undefined;
async function clientsImage(): Promise<string> {
  clientsImported ??= ensureClientsImage().then(async (image) => await importImage(image.archive, node().containerdAddress));
  await clientsImported;
  return CLIENTS_IMAGE_REF;
}

/** Runs `script` with sh in a Pod of the clients image to completion and returns its log. */
async function runInPod(namespace: string, name: string, script: string): Promise<string> {
  await defaultServiceAccount(namespace);
  await applyYaml([
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace },
      spec: {
        restartPolicy: 'Never',
        securityContext: { runAsUser: CLIENTS_NONROOT_UID, runAsNonRoot: true },
        containers: [{ name: 'main', image: await clientsImage(), imagePullPolicy: 'Never', command: ['sh', '-c', script] }],
      },
    },
  ]);
  const pod = await waitFor(
    async () => {
      const p = await core().readNamespacedPod({ name, namespace });
      return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' ? p : undefined;
    },
    { timeoutMs: 90_000, what: `Pod ${namespace}/${name} to finish` },
  );
  // Through the API server and the kubelet's API: the log itself proves that path too.
  const log = await apiRequest(admin(), 'GET', `/api/v1/namespaces/${namespace}/pods/${name}/log`);
  assert.equal(log.status, 200, log.body);
  assert.equal(pod.status?.phase, 'Succeeded', log.body);
  return log.body;
}

describe('local control plane', () => {
  it('GIVEN a Deployment WHEN the controllers, the scheduler and the node run THEN a ReplicaSet owned by it yields a Running Pod on the node', async () => {
    const namespace = await createNamespace('deploy');
    await defaultServiceAccount(namespace);
    await applyYaml(deploymentYaml(namespace, 'web'));
    const deployment = await apps().readNamespacedDeployment({ name: 'web', namespace });

    const replicaSet = await waitFor(
      async () => (await apps().listNamespacedReplicaSet({ namespace })).items.find((rs) => ownedBy(rs.metadata, deployment.metadata?.uid)),
      { what: 'a ReplicaSet owned by the Deployment' },
    );
    const pod = await waitFor(
      async () =>
        (await core().listNamespacedPod({ namespace })).items.find((p) => ownedBy(p.metadata, replicaSet.metadata?.uid) && p.status?.phase === 'Running'),
      { timeoutMs: 60_000, what: 'a Running Pod owned by the ReplicaSet' },
    );

    assert.equal(pod.spec?.nodeName, node().name);
    assert.equal(pod.spec?.serviceAccountName, 'default');
    assert.match(pod.status?.podIP ?? '', /^10\.244\.0\.\d+$/);
  });

  const ownerCases = [
    {
      owner: 'a ConfigMap',
      create: async (namespace: string): Promise<{ apiVersion: string; kind: string; name: string; uid: string }> => {
        const [cm] = await applyYaml([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner', namespace } }]);
        return { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: cm!.metadata!.uid! };
      },
    },
    {
      owner: 'a Deployment',
      create: async (namespace: string): Promise<{ apiVersion: string; kind: string; name: string; uid: string }> => {
        const [deployment] = await applyYaml(deploymentYaml(namespace, 'owner'));
        return { apiVersion: 'apps/v1', kind: 'Deployment', name: 'owner', uid: deployment!.metadata!.uid! };
      },
    },
  ];
  for (const { owner, create } of ownerCases) {
    it(`GIVEN a ConfigMap owned by ${owner} WHEN the owner is deleted THEN the garbage collector deletes the ConfigMap`, async () => {
      const namespace = await createNamespace('gc');
      const ref = await create(namespace);
      await applyYaml([
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'dependent', namespace, ownerReferences: [ref] }, data: { a: 'b' } },
      ]);
      await core().readNamespacedConfigMap({ name: 'dependent', namespace });

      // Background propagation (kubectl's default): the owner goes at once, the garbage collector removes the dependent later.
      await deleteAndWait({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace } }, { propagationPolicy: 'Background' });

      await waitFor(
        async () => await core().readNamespacedConfigMap({ name: 'dependent', namespace }).then(() => false, (e: unknown) => isStatus(e, 404)),
        { timeoutMs: 90_000, what: 'the dependent ConfigMap to be garbage-collected' },
      );
    });
  }

  it('GIVEN a new namespace THEN it gets the default ServiceAccount and the kube-root-ca.crt ConfigMap with the cluster CA', async () => {
    const namespace = await createNamespace('fresh');

    await defaultServiceAccount(namespace);
    const rootCa = await waitFor(async () => await core().readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace }), {
      what: 'kube-root-ca.crt',
    });

    assert.equal(rootCa.data?.['ca.crt']?.trim(), readFileSync(testCluster().caFile, 'utf8').trim());
  });

  it('GIVEN alice, who has no role WHEN she lists pods THEN she is Forbidden while admin is not', async () => {
    const namespace = await createNamespace('rbac');

    await assert.rejects(core('alice').listNamespacedPod({ namespace }), (e: unknown) => isStatus(e, 403));
    const viaKubectl = await kubectl(['get', 'pods', '-n', namespace], { user: 'alice' });
    assert.notEqual(viaKubectl.code, 0);
    assert.match(viaKubectl.stderr, /Forbidden.*User "alice" cannot list resource "pods"/);
    assert.deepEqual((await core('admin').listNamespacedPod({ namespace })).items, []);
  });

  const identities: { user: UserName; name: string; group: string }[] = [
    { user: 'admin', name: 'admin', group: 'system:masters' },
    { user: 'alice', name: 'alice', group: 'system:authenticated' },
    { user: 'kip-agent', name: 'kip-agent', group: 'apiaccess:kip' },
  ];
  for (const { user, name, group } of identities) {
    it(`GIVEN the ${user} kubeconfig THEN the API server authenticates user ${name} in group ${group}`, async () => {
      // --validate=false: kubectl's schema check would list CRDs, which alice and kip-agent may not.
      const review = await kubectl(['create', '--validate=false', '-o', 'json', '-f', '-'], {
        user,
        input: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }),
      });
      assert.equal(review.code, 0, review.stderr);
      const userInfo = (JSON.parse(review.stdout) as { status: { userInfo: { username: string; groups: string[] } } }).status.userInfo;
      assert.equal(userInfo.username, name);
      assert.ok(userInfo.groups.includes(group), `groups: ${userInfo.groups.join(', ')}`);
      if (user === 'alice') assert.deepEqual(userInfo.groups, ['system:authenticated']);
    });
  }

  it('GIVEN a ValidatingAdmissionPolicy bound to a namespace WHEN a violating ConfigMap is created THEN admission denies it with the message', async () => {
    const namespace = await createNamespace('vap');
    await applyYaml(`
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: ${namespace}-no-forbidden-label}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}]
  validations:
  - expression: "!has(object.metadata.labels) || !('forbidden' in object.metadata.labels)"
    message: configmaps must not carry the forbidden label
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: ${namespace}-no-forbidden-label}
spec:
  policyName: ${namespace}-no-forbidden-label
  validationActions: [Deny]
  matchResources:
    namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ${namespace}}}
`);
    const violating = (name: string): { apiVersion: string; kind: string; metadata: V1ObjectMeta } => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace, labels: { forbidden: 'yes' } },
    });

    // The policy takes effect once the API server's policy informer has seen it.
    const denial = await waitFor(
      async () => {
        const name = `probe-${Date.now()}`;
        return await core()
          .createNamespacedConfigMap({ namespace, body: violating(name) })
          .then(() => undefined, (e: unknown) => (isStatus(e, 422) ? String((e as { body?: unknown }).body) : undefined));
      },
      { what: 'the policy to deny' },
    );
    assert.match(denial, /configmaps must not carry the forbidden label/);
    await core().createNamespacedConfigMap({ namespace, body: { metadata: { name: 'allowed', namespace } } });
  });
  it('GIVEN the node THEN it is Ready under its address, with the kubelet of the cluster version and containerd 1.6', async () => {
    const info = await core().readNode({ name: node().name });

    assert.equal(info.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    assert.deepEqual(info.status?.addresses?.find((a) => a.type === 'InternalIP')?.address, node().address);
    assert.equal(info.status?.nodeInfo?.kubeletVersion, node().kubeletVersion);
    assert.match(info.status?.nodeInfo?.containerRuntimeVersion ?? '', /^containerd:\/\/1\.6\./);
  });

  it('GIVEN the kubernetes Service THEN its endpoint is the API server on the node address', async () => {
    const slices = await apiJsonAdmin<{ items: { endpoints: { addresses: string[] }[]; ports: { port: number }[] }[] }>(
      '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dkubernetes',
    );

    assert.deepEqual(slices.items.flatMap((s) => s.endpoints.flatMap((e) => e.addresses)), [node().address]);
    assert.deepEqual(slices.items.flatMap((s) => s.ports.map((p) => p.port)), [Number(new URL(testCluster().server).port)]);
  });

  it('GIVEN a running Pod THEN its resolv.conf names the cluster DNS and cluster.local search domains', async () => {
    const namespace = await createNamespace('dns');
    const pid = await containerPid(await runningPod(namespace, 'dns'));

    const resolvConf = await readFile(`/proc/${pid}/root/etc/resolv.conf`, 'utf8');

    assert.match(resolvConf, new RegExp(`^nameserver ${node().clusterDNS.replaceAll('.', '\\.')}$`, 'm'));
    assert.match(resolvConf, new RegExp(`^search ${namespace}\\.svc\\.cluster\\.local svc\\.cluster\\.local cluster\\.local`, 'm'));
  });

  it('GIVEN a Pod running curl with its mounted ServiceAccount token and CA WHEN it calls https://kubernetes.default.svc THEN DNS, the Service and TLS verification lead to the API server, which knows the Pod', async () => {
    const namespace = await createNamespace('svc');
    const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
    const curl = `curl -sS --fail-with-body --cacert ${sa}/ca.crt -H "Authorization: Bearer $(cat ${sa}/token)"`;
    const review = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });

    const log = await runInPod(
      namespace,
      'curl',
      `${curl} https://kubernetes.default.svc/api && printf '\\n---\\n' && ${curl} -X POST -H 'Content-Type: application/json' -d '${review}' https://kubernetes.default.svc/apis/authentication.k8s.io/v1/selfsubjectreviews`,
    );

    const [api, whoami] = log.split('\n---\n');
    const versions = JSON.parse(api!) as { kind: string; serverAddressByClientCIDRs: { serverAddress: string }[] };
    assert.equal(versions.kind, 'APIVersions');
    assert.equal(versions.serverAddressByClientCIDRs[0]?.serverAddress, new URL(testCluster().server).host);
    const user = (JSON.parse(whoami!) as { status: { userInfo: { username: string; extra?: Record<string, string[]> } } }).status.userInfo;
    assert.equal(user.username, `system:serviceaccount:${namespace}:default`);
    assert.deepEqual(user.extra?.['authentication.kubernetes.io/pod-name'], ['curl']);
  });

  it('GIVEN a Pod naming an image that was never imported THEN the pull fails at once without containerd dialling a registry', async () => {
    const namespace = await createNamespace('pull');
    await defaultServiceAccount(namespace);
    await applyYaml([
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'absent', namespace }, spec: { containers: [{ name: 'main', image: 'example.invalid/absent:1' }] } },
    ]);

    const waiting = await waitFor(
      async () => (await core().readNamespacedPod({ name: 'absent', namespace })).status?.containerStatuses?.[0]?.state?.waiting?.message,
      { timeoutMs: 60_000, what: 'the pull to fail' },
    );

    assert.match(waiting, /proxyconnect tcp: dial tcp 127\.0\.0\.1:9: connect: connection refused/);
  });

  it('GIVEN the API server WHEN it proxies to the kubelet THEN its client certificate is accepted while an anonymous caller is not', async () => {
    const proxied = await apiRequest(admin(), 'GET', `/api/v1/nodes/${node().name}/proxy/healthz`);
    assert.equal(proxied.status, 200, proxied.body);
    assert.equal(proxied.body, 'ok');

    const anonymous = await runHost('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', testCluster().caFile, `https://${node().address}:10250/pods`]);
    assert.equal(anonymous.stdout, '401');
  });

  it('GIVEN a request with a ServiceAccount token THEN the audit log records it at level Metadata with the token\'s credential-id', async () => {
    const namespace = await createNamespace('audit');
    await defaultServiceAccount(namespace);
    const { token } = (await apiJsonAdmin<{ status: { token: string } }>(`/api/v1/namespaces/${namespace}/serviceaccounts/default/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 600 },
    })).status;
    const jti = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { jti: string }).jti;

    const res = await apiRequest({ ...admin(), token }, 'GET', `/api/v1/namespaces/${namespace}/configmaps`);
    assert.equal(res.status, 403);

    const event = await waitFor(
      async () =>
        (await readFile(testCluster().auditLog, 'utf8'))
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as AuditEvent)
          .find((e) => e.objectRef?.namespace === namespace && e.objectRef.resource === 'configmaps' && e.user.username === `system:serviceaccount:${namespace}:default`),
      { what: 'the audit event of the ConfigMap list' },
    );
    assert.equal(event.level, 'Metadata');
    assert.equal(event.stage, 'ResponseComplete');
    assert.equal(event.user.username, `system:serviceaccount:${namespace}:default`);
    assert.deepEqual(event.user.extra?.['authentication.kubernetes.io/credential-id'], [`JTI=${jti}`]);
    assert.equal(event.responseStatus?.code, 403);
  });
});
