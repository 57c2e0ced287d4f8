// The local control plane behaves as a real cluster does where this project relies on it:
// controllers run, the garbage collector collects, namespaces are provisioned, RBAC and admission
// are enforced, and the users described in cluster.json are who they claim.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { AppsV1Api, CoreV1Api, type V1ObjectMeta } from '@kubernetes/client-node';
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
      containers: [{name: main, image: registry.k8s.io/pause:3.10}]
`;
}

describe('local control plane', () => {
  it('GIVEN a Deployment WHEN the controllers run THEN a ReplicaSet owned by it yields a Pending Pod', async () => {
    const namespace = await createNamespace('deploy');
    await defaultServiceAccount(namespace);
    await applyYaml(deploymentYaml(namespace, 'web'));
    const deployment = await apps().readNamespacedDeployment({ name: 'web', namespace });

    const replicaSet = await waitFor(
      async () => (await apps().listNamespacedReplicaSet({ namespace })).items.find((rs) => ownedBy(rs.metadata, deployment.metadata?.uid)),
      { what: 'a ReplicaSet owned by the Deployment' },
    );
    const pod = await waitFor(
      async () => (await core().listNamespacedPod({ namespace })).items.find((p) => ownedBy(p.metadata, replicaSet.metadata?.uid)),
      { what: 'a Pod owned by the ReplicaSet' },
    );

    assert.equal(pod.status?.phase, 'Pending', 'no kubelet runs Pods here');
    assert.equal(pod.spec?.serviceAccountName, 'default');
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
      const review = await kubectl(['create', '-o', 'json', '-f', '-'], {
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
});
