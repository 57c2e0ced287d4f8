// `apiaccess preview` as a user runs it, on a control plane of its own with the CRD and RBAC but no
// operator running: preview must show what the operator would do, and change nothing itself.
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import type { KubeClient, KubeObject } from '../operator/kube/client.ts';
import { runProgram } from './clients.ts';
import { applyYaml, createNamespace, kubeconfigPath, stopPrivateControlPlane, testCluster, usePrivateControlPlane } from './harness.ts';
import { installOperator } from './install.ts';
import { adminClient } from './operator-process.ts';

const BIN = resolve(import.meta.dirname, '..', 'operator', 'bin', 'apiaccess.js');
const apiaccess = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
  runProgram(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent' } });

let admin: KubeClient;
before(async () => {
  await usePrivateControlPlane();
  admin = adminClient();
});
after(async () => {
  admin?.close();
  await stopPrivateControlPlane();
});

const profile = (ns: string, name: string, spec: object): object => ({ apiVersion: 'apiaccess.dev/v1alpha1', kind: 'ApiAccessProfile', metadata: { name, namespace: ns }, spec });

describe('apiaccess preview', () => {
  before(async () => await installOperator(testCluster()));

  it('shows the objects and the pod-template change a profile would produce and changes nothing', async () => {
    const ns = await createNamespace('preview');
    await applyYaml([
      profile(ns, 'agent', { auth: 'Kubeconfig', permissions: { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] } }),
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web', namespace: ns, labels: { 'apiaccess.dev/profile': 'agent' } },
        spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'example/app:1' }] } } },
      },
    ]);
    const versions = async (): Promise<string[]> => {
      const out: string[] = [];
      for (const path of [`/api/v1/namespaces/${ns}/serviceaccounts`, `/api/v1/namespaces/${ns}/configmaps`, `/apis/apps/v1/namespaces/${ns}/deployments`, `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, `/apis/apiaccess.dev/v1alpha1/namespaces/${ns}/apiaccessprofiles`]) {
        const list = await admin.request<{ items: KubeObject[] }>('GET', path);
        out.push(...list.items.map((o) => `${path}/${o.metadata.name}@${o.metadata.resourceVersion}`));
      }
      return out.sort();
    };
    // The controllers settle first (the Deployment's status, its ReplicaSet): only preview may not write.
    let before = await versions();
    for (let i = 0; i < 30; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const now = await versions();
      if (JSON.stringify(now) === JSON.stringify(before)) break;
      before = now;
    }
    const result = await apiaccess(['preview', 'agent', '-n', ns, '--kubeconfig', kubeconfigPath('admin')]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`# ServiceAccount ${ns}/agent: would create`));
    assert.match(result.stdout, new RegExp(`# Role ${ns}/apiaccess:agent: would create`));
    assert.match(result.stdout, new RegExp(`# ConfigMap ${ns}/apiaccess-agent-kubeconfig: would create`));
    assert.match(result.stdout, new RegExp(`# Deployment ${ns}/web: would change`));
    const docs = result.stdout.split('---\n').map((d) => parse(d) as { kind?: string; spec?: { template?: { spec?: { serviceAccountName?: string } } } } | null);
    const deployment = docs.find((d) => d?.kind === 'Deployment');
    assert.equal(deployment?.spec?.template?.spec?.serviceAccountName, 'agent');
    assert.deepEqual(await versions(), before, 'preview changed something');
    assert.equal(await admin.get(`/api/v1/namespaces/${ns}/serviceaccounts/agent`), undefined);
  });

  it('fails with a clear message for a profile that does not exist', async () => {
    const result = await apiaccess(['preview', 'nope', '-n', 'default', '--kubeconfig', kubeconfigPath('admin')]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /ApiAccessProfile default\/nope not found/);
  });
});
