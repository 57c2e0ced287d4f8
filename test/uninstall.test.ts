// Uninstalling in the documented order (docs/install.md, "Uninstalling"): profiles first, while the
// operator still runs and can remove what it injected and release its finalizers, then the install
// with `kubectl delete -f`. Nothing is left stuck on a finalizer: the CRD goes, the namespaces can go.
// On a control plane of its own (deleting the CRD would break every other test); the operator process
// runs as its own ServiceAccount in place of its Pod, which the node-less plane never starts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeClient, KubeObject } from '../operator/kube/client.ts';
import { createNamespace, kubectl, stopPrivateControlPlane, usePrivateControlPlane, waitFor } from './harness.ts';
import { INSTALL_FILES, waitForAuthorGuard } from './install.ts';
import { adminClient, startOperator, type OperatorProcess } from './operator-process.ts';

type Obj = KubeObject & { spec?: any; status?: any };

const CRD = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/apiaccessprofiles.apiaccess.dev';

let admin: KubeClient;
let ns: string;
let operator: OperatorProcess | undefined;

describe('uninstalling while profiles exist', { concurrency: false }, () => {
  before(async () => {
    await usePrivateControlPlane();
    admin = adminClient();
    const applied = await kubectl(['apply', '--server-side', ...INSTALL_FILES.flatMap((f) => ['-f', f])]);
    assert.equal(applied.code, 0, applied.stderr);
    await waitFor(async () => ((await admin.get<Obj>(CRD))?.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Established' && c.status === 'True'), {
      what: 'the CRD to be Established',
    });
    await waitForAuthorGuard(admin);
    ns = await createNamespace('uninstall');
    operator = await startOperator(ns);
  });
  after(async () => {
    await operator?.stop();
    admin?.close();
    await stopPrivateControlPlane();
  });

  it('profiles deleted first take their injections and cluster-wide RBAC with them; then `kubectl delete -f` of the install completes', async () => {
    const profile = {
      apiVersion: 'apiaccess.dev/v1alpha1',
      kind: 'ApiAccessProfile',
      metadata: { name: 'agent', namespace: ns },
      spec: { auth: 'Kubeconfig', permissions: { scope: 'Cluster', rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['list'] }] } },
    };
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'agent', namespace: ns, labels: { 'apiaccess.dev/profile': 'agent' } },
      spec: { replicas: 0, selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'app', image: 'localhost/none' }] } } },
    };
    await admin.apply(profile, { fieldManager: 'kubectl', force: true });
    await admin.apply(deployment, { fieldManager: 'kubectl', force: true });
    const crbPath = `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/apiaccess:${ns}:agent`;
    await waitFor(async () => (await admin.get<Obj>(`/apis/apps/v1/namespaces/${ns}/deployments/agent`))?.metadata.labels?.['apiaccess.dev/injected'] === 'agent', {
      what: 'the Deployment to carry the injection',
    });
    await waitFor(async () => (await admin.get(crbPath)) !== undefined, { what: 'the profile\'s ClusterRoleBinding' });

    const profiles = await kubectl(['delete', 'apiaccessprofiles', '--all', '--all-namespaces', '--wait', '--timeout=120s']);
    assert.equal(profiles.code, 0, profiles.stderr);
    const d = await admin.get<Obj>(`/apis/apps/v1/namespaces/${ns}/deployments/agent`);
    assert.equal(d?.metadata.labels?.['apiaccess.dev/injected'], undefined, 'the injection was removed before the finalizer was released');
    assert.equal(d?.spec.template.spec.volumes, undefined);
    assert.equal(await admin.get(crbPath), undefined, 'the cluster-scoped binding was deleted');

    await operator?.stop();
    operator = undefined;
    const uninstall = await kubectl(['delete', '--ignore-not-found', '--wait', '--timeout=120s', ...INSTALL_FILES.flatMap((f) => ['-f', f])]);
    assert.equal(uninstall.code, 0, uninstall.stderr);
    assert.equal(await admin.get(CRD), undefined, 'the CRD is gone');
    const namespace = await kubectl(['delete', 'namespace', ns, '--wait', '--timeout=120s']);
    assert.equal(namespace.code, 0, namespace.stderr);
  });
});
