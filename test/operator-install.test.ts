// The install a user applies (`kubectl apply -f crds/ -f manifests/dist/operator.k8s.yaml`), running
// on the real node: the synthesized Deployment's Pods run the operator image as non-root on a
// read-only root filesystem, as their own ServiceAccount with exactly the synthesized RBAC; one
// replica leads through the Lease; probes and metrics answer; `doctor` runs inside the Pod.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeClient, KubeObject } from '../operator/kube/client.ts';
import { auditEventsSince, POD_NAME } from './audit.ts';
import { holderPod, manifest, OPERATOR_NAMESPACE, OPERATOR_SA, waitForOperator } from './install.ts';
import { prometheusToken, scrape, serviceAccountToken } from './metrics.ts';
import { adminClient } from './operator-process.ts';
import { execInPod } from './pods.ts';

type Pod = KubeObject & { spec?: any; status?: any };

let admin: KubeClient;
let pods: Pod[] = [];
let leader = '';

async function serviceAddress(client: KubeClient, namespace: string, name: string): Promise<string> {
  const service = await client.get<{ spec?: { clusterIP?: string } }>(`/api/v1/namespaces/${namespace}/services/${name}`);
  if (!service?.spec?.clusterIP) throw new Error(`Service ${namespace}/${name} has no cluster IP`);
  return service.spec.clusterIP;
}

const synthesized = (): any => manifest('operator.k8s.yaml').find((o) => o.kind === 'Deployment');

describe('the synthesized install on the real node', () => {
  before(async () => {
    admin = adminClient();
    leader = await waitForOperator(admin);
    pods = (await admin.request<{ items: Pod[] }>('GET', `/api/v1/namespaces/${OPERATOR_NAMESPACE}/pods`, { query: { labelSelector: 'app.kubernetes.io/name=apiaccess-operator' } })).items.filter(
      (p) => p.metadata.deletionTimestamp === undefined,
    );
  });
  after(() => admin?.close());

  it('runs the replicas the Deployment names, from the image it names, as non-root on a read-only root filesystem', () => {
    const deployment = synthesized();
    assert.equal(pods.filter((p) => p.status?.phase === 'Running').length, deployment.spec.replicas);
    for (const pod of pods) {
      const container = pod.spec.containers[0];
      assert.equal(container.image, deployment.spec.template.spec.containers[0].image);
      assert.equal(pod.spec.serviceAccountName, OPERATOR_SA);
      assert.equal(container.securityContext.readOnlyRootFilesystem, true);
      assert.equal(pod.status.containerStatuses[0].restartCount, 0, `${pod.metadata.name} restarted`);
    }
  });

  it('the container really is uid 65532 and cannot write its root filesystem', async () => {
    const pod = pods.find((p) => p.metadata.name === leader)!;
    const id = await execInPod(pod, ['/usr/local/bin/node', '-e', "process.stdout.write(`${process.getuid()}:${process.getgid()}`); try { require('fs').writeFileSync('/probe', 'x'); console.log(' writable') } catch (e) { console.log(' ' + e.code) }"]);
    assert.equal(id.code, 0, id.stderr);
    assert.equal(id.stdout.trim(), '65532:65532 EROFS');
  });

  it('the Lease names a ready replica; every replica answers its probes; the leader serves metrics', async () => {
    const lease = await admin.get<{ spec?: { holderIdentity?: string } }>(`/apis/coordination.k8s.io/v1/namespaces/${OPERATOR_NAMESPACE}/leases/apiaccess-operator`);
    assert.equal(holderPod(lease?.spec?.holderIdentity), leader);
    assert.match(lease?.spec?.holderIdentity ?? '', new RegExp(`^${leader}_[0-9a-f]{8}$`), 'the identity is unique per process, not the bare Pod name');
    for (const pod of pods) {
      const ip = pod.status.podIP as string;
      assert.equal((await fetch(`http://${ip}:8081/healthz`)).status, 200, `${pod.metadata.name} /healthz`);
      assert.equal((await fetch(`http://${ip}:8081/readyz`)).status, 200, `${pod.metadata.name} /readyz`);
    }
  });

  it('serves metrics only over HTTPS to a token allowed get /metrics, as a Prometheus scrapes it through the Service', async () => {
    const url = `https://${await serviceAddress(admin, OPERATOR_NAMESPACE, 'apiaccess-operator-metrics')}:8443/metrics`;
    const scraped = await scrape(url, await prometheusToken(admin));
    assert.equal(scraped.status, 200, scraped.body);
    assert.match(scraped.body, /^apiaccess_kube_requests_total\{/m);
    assert.equal((await scrape(url, undefined)).status, 401, 'no token');
    assert.equal((await scrape(url, 'not-a-token')).status, 401, 'a token the API server does not accept');
    // A ServiceAccount without the metrics-reader ClusterRole is authenticated, then refused.
    const other = await scrape(url, await serviceAccountToken(admin, OPERATOR_NAMESPACE, OPERATOR_SA));
    assert.equal(other.status, 403, other.body);
    assert.match(other.body, /may not get \/metrics/);
    const plain = await fetch(url.replace('https:', 'http:')).then((r) => r.status, (e: unknown) => String(e));
    assert.notEqual(plain, 200, 'plain HTTP does not serve metrics');
  });

  it('talks to the API as its own ServiceAccount, with the token the kubelet bound to its Pod; only the leader writes', async () => {
    // Once per file, from the start of the log: the install and the examples are in its first part.
    const events = await auditEventsSince(0, (e) => pods.some((p) => p.metadata.name === e.user.extra?.[POD_NAME]?.[0]));
    assert.ok(events.some((e) => e.user.extra?.[POD_NAME]?.[0] === leader), 'no audited request from the leader Pod');
    assert.deepEqual([...new Set(events.map((e) => e.user.username))], [`system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SA}`]);
    // Every replica renews or tries the Lease; only the leader reconciles, so only it writes anything else.
    // Reviews are not writes: any replica behind the metrics Service reviews a scraper's token.
    const writes = events.filter((e) => ['create', 'update', 'patch', 'delete'].includes(e.verb) && !['leases', 'events', 'tokenreviews', 'subjectaccessreviews'].includes(e.objectRef?.resource ?? ''));
    assert.ok(writes.length > 0, 'the leader applied the examples\' injections');
    assert.deepEqual([...new Set(writes.map((e) => e.user.extra?.[POD_NAME]?.[0]))], [leader], 'a replica that does not hold the Lease wrote');
  });

  it('`apiaccess doctor` inside the operator Pod finds the in-cluster config, the ServiceAccount and its rights', async () => {
    const pod = pods.find((p) => p.metadata.name === leader)!;
    const run = await execInPod(pod, ['apiaccess', 'doctor', '--json', '--can', 'list', 'apiaccessprofiles.apiaccess.dev', '--can', 'get', 'secrets']);
    const report = JSON.parse(run.stdout) as { ok: boolean; source: string; identity: { username: string }; checks: Array<{ name: string; verdict: string; summary: string }> };
    assert.equal(report.source, 'in-cluster');
    assert.equal(report.identity.username, `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SA}`);
    const can = report.checks.filter((c) => c.name.startsWith('can'));
    assert.deepEqual(can.map((c) => c.verdict), ['pass', 'fail'], JSON.stringify(can));
    assert.equal(run.code, 1, 'the operator may not read Secrets, and doctor says so with exit 1');
  });
});
