// The committed examples, applied by the runner exactly as `npm start` applies them: every example
// workload's Pod runs on the node and really reaches the API with the access its profile injected,
// and every profile reports Ready.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EXAMPLES_NAMESPACE } from '../manifests/examples.ts';
import type { KubeClient, KubeObject } from '../operator/kube/client.ts';
import { waitFor } from './harness.ts';
import { adminClient } from './operator-process.ts';
import { readyPod } from './pods.ts';

type Obj = KubeObject & { spec?: any; status?: any };

let admin: KubeClient;
before(() => {
  admin = adminClient();
});
after(() => admin?.close());

/** What each example's loop prints once the API answered it (never printed on a refusal). */
const EXAMPLES: Array<[deployment: string, answered: RegExp, identity: string]> = [
  ['kip', /\bReady\b/, 'ServiceAccount kip: in-cluster kubectl lists nodes and pods'],
  ['kip-network-agent', /service\/kubernetes/, 'the seed-000 kubeconfig\'s client certificate lists services'],
  ['config-agent', /kube-root-ca\.crt/, 'the generated kubeconfig lists configmaps'],
  ['pod-reader', /"kind": "PodList"/, 'the seed-004 curl lists pods'],
];

describe('the examples on the local cluster', () => {
  for (const [name, answered, what] of EXAMPLES) {
    it(`${name}: its Pod runs and ${what}; its profile is Ready`, async () => {
      const deployment = await waitFor(async () => {
        const d = await admin.get<Obj>(`/apis/apps/v1/namespaces/${EXAMPLES_NAMESPACE}/deployments/${name}`);
        return d?.spec.template.metadata?.annotations?.['apiaccess.dev/config-hash'] !== undefined ? d : undefined;
      }, { what: `Deployment ${name}` });
      const selector = Object.entries(deployment.spec.selector.matchLabels as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(',');
      const pod = await readyPod(admin, EXAMPLES_NAMESPACE, selector, deployment.spec.template.metadata.annotations['apiaccess.dev/config-hash'], `Deployment ${name}`);
      const logs = await waitFor(async () => {
        const text = (await admin.request<string | undefined>('GET', `/api/v1/namespaces/${EXAMPLES_NAMESPACE}/pods/${pod.metadata.name}/log`)) ?? '';
        return answered.test(text) ? text : undefined;
      }, { timeoutMs: 90_000, intervalMs: 2_000, what: `the logs of ${pod.metadata.name} to show ${answered}` });
      assert.doesNotMatch(logs, /Forbidden|Unauthorized|x509|certificate|permission denied/i);
      const profile = await waitFor(async () => {
        const p = await admin.get<Obj>(`/apis/apiaccess.dev/v1alpha1/namespaces/${EXAMPLES_NAMESPACE}/apiaccessprofiles/${name}`);
        return p?.status?.conditions?.find((c: { type: string; status: string }) => c.type === 'Ready')?.status === 'True' ? p : undefined;
      }, { timeoutMs: 90_000, what: `ApiAccessProfile ${name} Ready` });
      assert.deepEqual(profile.status.workloads, { bound: 1, pending: 0, unsupported: 0, conflicted: 0, containerNotFound: 0, unreadable: 0, failed: 0 });
    });
  }
});
