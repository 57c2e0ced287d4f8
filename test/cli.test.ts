// `apiaccess preview` and `apiaccess kubeconfig` as a user runs them, against the real control plane.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import type { KubeClient, KubeObject } from '../operator/kube/client.ts';
import { runProgram } from './clients.ts';
import { applyYaml, createNamespace, kubeconfigPath, kubectl, testCluster, waitFor } from './harness.ts';
import { installOperator } from './install.ts';
import { adminClient, startOperator, type OperatorProcess } from './operator-process.ts';

const BIN = resolve(import.meta.dirname, '..', 'operator', 'bin', 'apiaccess.js');
const apiaccess = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
  runProgram(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent' } });

let admin: KubeClient;
let dir: string;
before(() => {
  admin = adminClient();
  dir = mkdtempSync(join(tmpdir(), 'apiaccess-cli-'));
});
after(() => {
  admin.close();
  rmSync(dir, { recursive: true, force: true });
});

const profile = (ns: string, name: string, spec: object): object => ({ apiVersion: 'apiaccess.dev/v1alpha1', kind: 'ApiAccessProfile', metadata: { name, namespace: ns }, spec });

describe('apiaccess preview', () => {
  before(async () => installOperator(testCluster()));

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

describe('apiaccess kubeconfig', () => {
  let ns: string;
  let operator: OperatorProcess;
  before(async () => {
    ns = await createNamespace('export');
    // This operator also elects a leader, as the synthesized Deployment runs it, with only its own Role.
    operator = await startOperator(ns, ['--leader-elect', '--leader-election-namespace', 'apiaccess-system']);
    await applyYaml([profile(ns, 'reader', { auth: 'ServiceAccount', permissions: { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] } })]);
    await waitFor(async () => (await admin.get(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings/apiaccess:reader`)) !== undefined, {
      what: 'the operator to bind the ServiceAccount',
    });
  });
  after(async () => {
    assert.equal(await operator.stop(), 0);
  });

  it('the operator leads through the Lease its own Role allows and reports ready once its caches synced', async () => {
    const lease = await admin.get<KubeObject & { spec?: { holderIdentity?: string } }>('/apis/coordination.k8s.io/v1/namespaces/apiaccess-system/leases/apiaccess-operator');
    assert.ok(lease?.spec?.holderIdentity, 'the Lease names a holder');
    assert.ok(operator.logs.some((l) => l.msg === 'Acquired Lease'));
    assert.equal((await fetch(`${operator.healthUrl}/readyz`)).status, 200);
    assert.equal((await fetch(`${operator.healthUrl}/healthz`)).status, 200);
  });

  it('writes a 0600 kubeconfig that kubectl and curl use with exactly the profile\'s rights and the requested expiry', async () => {
    const file = join(dir, 'reader.kubeconfig');
    const result = await apiaccess(['kubeconfig', 'reader', '-n', ns, '--duration', '20m', '--output', file, '--kubeconfig', kubeconfigPath('admin')]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const expiry = /the token expires at (\S+)/.exec(result.stderr)?.[1];
    assert.ok(expiry, result.stderr);

    const config = parse(readFileSync(file, 'utf8')) as { users: Array<{ user: { token: string } }>; clusters: Array<{ cluster: { server: string } }> };
    const token = config.users[0]?.user.token ?? '';
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { exp: number; iat: number; sub: string };
    assert.equal(claims.sub, `system:serviceaccount:${ns}:reader`);
    assert.equal(claims.exp - claims.iat, 1200, 'exp is 20 minutes after iat');
    assert.equal(new Date(expiry).getTime() / 1000, claims.exp, 'expirationTimestamp matches the exp claim');
    assert.equal(config.clusters[0]?.cluster.server, testCluster().server);

    const pods = await kubectl(['get', 'pods', '-n', ns], { kubeconfig: file });
    assert.equal(pods.code, 0, pods.stderr);
    const secrets = await kubectl(['get', 'secrets', '-n', ns], { kubeconfig: file });
    assert.match(secrets.stderr, /Forbidden/);
    const curl = await runProgram('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', testCluster().caFile, '-H', `Authorization: Bearer ${token}`, `${testCluster().server}/api/v1/namespaces/${ns}/pods`]);
    assert.equal(curl.stdout, '200');
  });

  it('prints to standard output by default and rejects a duration under the server minimum with exit 2', async () => {
    const out = await apiaccess(['kubeconfig', 'reader', '-n', ns, '--kubeconfig', kubeconfigPath('admin')]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /kind: Config/);
    const short = await apiaccess(['kubeconfig', 'reader', '-n', ns, '--duration', '5m', '--kubeconfig', kubeconfigPath('admin')]);
    assert.equal(short.code, 2);
    assert.match(short.stderr, /--duration must be at least 10m/);
  });
});
