// The kubelet really rotates the Generated kubeconfig's token, and a client really switches to the
// new one. An old token stays valid after rotation, so "still works" proves nothing: the API server's
// audit log names the credential (`authentication.kubernetes.io/credential-id: JTI=<token id>`) of
// every request, and requests after the rotation must carry the new token's. Takes ~10 minutes: the
// shortest token the API allows is 600 s, renewed by the kubelet at 80 % of its life.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeClient, KubeObject } from '../operator/kube/client.ts';
import { EXAMPLES_IMAGE } from '../manifests/examples.ts';
import { auditEventsSince, auditMark, CREDENTIAL_ID, POD_NAME, type AuditEvent } from './audit.ts';
import { applyYaml, createNamespace, waitFor } from './harness.ts';
import { adminClient } from './operator-process.ts';
import { execInPod, readyPod } from './pods.ts';

const TOKEN_SECONDS = 600;
/** Rotation at 80 % (480 s) plus the kubelet's sync period and a loaded machine's slack. */
const ROTATION_TIMEOUT_MS = 12 * 60_000;
/** client-go re-reads a tokenFile about once a minute. */
const REREAD_MS = 75_000;

type Obj = KubeObject & { spec?: any };

let admin: KubeClient;
let ns = '';

function jtiOf(token: string): string {
  const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { jti?: string };
  if (claims.jti === undefined) throw new Error('the projected token has no jti claim');
  return claims.jti;
}

describe('token rotation, proven by the audit log', () => {
  before(async () => {
    admin = adminClient();
    ns = await createNamespace('rotation');
  });
  after(() => admin?.close());

  it('client-go in a Generated-kubeconfig Pod sends the kubelet\'s rotated token after rotation, not the old one', { timeout: ROTATION_TIMEOUT_MS + 5 * 60_000 }, async () => {
    await applyYaml([
      {
        apiVersion: 'apiaccess.dev/v1alpha1',
        kind: 'ApiAccessProfile',
        metadata: { name: 'rotating', namespace: ns },
        // client-go's out-of-cluster example lists Pods cluster-wide every 10 s and stops on a refusal.
        spec: { auth: 'Kubeconfig', kubeconfig: { tokenExpirationSeconds: TOKEN_SECONDS }, permissions: { scope: 'Cluster', rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] } },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'poller', namespace: ns, labels: { 'apiaccess.dev/profile': 'rotating' } },
        spec: {
          replicas: 1,
          strategy: { type: 'Recreate' },
          selector: { matchLabels: { app: 'poller' } },
          template: {
            metadata: { labels: { app: 'poller' } },
            spec: {
              securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532 },
              containers: [
                {
                  name: 'poller',
                  image: EXAMPLES_IMAGE,
                  imagePullPolicy: 'IfNotPresent',
                  // One long-lived client-go process: it must re-read the token file itself.
                  command: ['out-of-cluster-client-configuration', '-kubeconfig', '/etc/apiaccess/kubeconfig'],
                  env: [{ name: 'HOME', value: '/tmp' }],
                  resources: { requests: { cpu: '5m', memory: '16Mi' } },
                  volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
                },
              ],
              volumes: [{ name: 'tmp', emptyDir: {} }],
            },
          },
        },
      },
    ]);
    const deployment = await waitFor(async () => {
      const d = await admin.get<Obj>(`/apis/apps/v1/namespaces/${ns}/deployments/poller`);
      return d?.spec.template.metadata?.annotations?.['apiaccess.dev/config-hash'] !== undefined ? d : undefined;
    }, { timeoutMs: 90_000, what: 'the poller to be injected' });
    const pod = await readyPod(admin, ns, 'app=poller', deployment.spec.template.metadata.annotations['apiaccess.dev/config-hash'], 'Deployment poller');
    const mark = await auditMark();
    const token = async (): Promise<string> => {
      const r = await execInPod(pod, ['cat', '/etc/apiaccess/token']);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    };
    const first = jtiOf(await token());

    const rotated = await waitFor(async () => {
      const jti = jtiOf(await token());
      return jti !== first ? jti : undefined;
    }, { timeoutMs: ROTATION_TIMEOUT_MS, intervalMs: 15_000, what: `the kubelet to rotate the ${TOKEN_SECONDS} s token` });
    const rotatedAt = Date.now();
    await sleep(REREAD_MS);

    const podRequests = (e: AuditEvent): boolean => e.user.extra?.[POD_NAME]?.[0] === pod.metadata.name && e.objectRef?.resource === 'pods';
    const events = await waitFor(async () => {
      const all = await auditEventsSince(mark, podRequests);
      return all.some((e) => Date.parse(e.stageTimestamp) > rotatedAt + REREAD_MS) ? all : undefined;
    }, { timeoutMs: 60_000, what: 'audited requests from the Pod after the rotation' });
    const restarts = (await admin.get<{ status?: { containerStatuses?: Array<{ restartCount: number }> } }>(`/api/v1/namespaces/${ns}/pods/${pod.metadata.name}`))?.status?.containerStatuses?.[0]?.restartCount;
    assert.equal(restarts, 0, 'the same process made every request');
    const credential = (e: AuditEvent): string | undefined => e.user.extra?.[CREDENTIAL_ID]?.[0];
    assert.ok(events.some((e) => credential(e) === `JTI=${first}`), `before rotation the Pod used token ${first}: ${[...new Set(events.map(credential))].join(', ')}`);
    const late = events.filter((e) => Date.parse(e.stageTimestamp) > rotatedAt + REREAD_MS);
    assert.ok(late.length > 0);
    assert.deepEqual([...new Set(late.map(credential))], [`JTI=${rotated}`], 'every request after the rotation carries the new token');
  });
});
