// `apiaccess kubeconfig` as a user runs it, against the shared cluster and its operator Pod.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import type { KubeClient } from '../operator/kube/client.ts';
import { runProgram } from './clients.ts';
import { applyYaml, createNamespace, kubeconfigPath, kubectl, testCluster, waitFor } from './harness.ts';
import { adminClient } from './operator-process.ts';

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

describe('apiaccess kubeconfig', () => {
  let ns: string;
  before(async () => {
    ns = await createNamespace('export');
    await applyYaml([profile(ns, 'reader', { auth: 'ServiceAccount', permissions: { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] } })]);
    await waitFor(async () => (await admin.get(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings/apiaccess:reader`)) !== undefined, {
      what: 'the operator to bind the ServiceAccount',
    });
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

describe('apiaccess run', () => {
  it('exits non-zero, naming the cause, when its metrics port is taken while the health server already listens (no hang)', async () => {
    const { createServer } = await import('node:net');
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as { port: number }).port;
    try {
      const run = await runProgram(
        process.execPath,
        [BIN, 'run', '--kubeconfig', kubeconfigPath(), '--health-probe-bind-address', '127.0.0.1:0', '--metrics-bind-address', `127.0.0.1:${port}`],
        { env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent' }, timeoutMs: 60_000 },
      );
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, new RegExp(`the operator failed to start: .*EADDRINUSE.*127\\.0\\.0\\.1:${port}`));
    } finally {
      taken.close();
    }
  });
});
