// Integration: KubeClient against the real local control plane (run through test/run.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { applyYaml, createNamespace, kubeConfig, parseYaml, testCluster, waitFor } from '../../test/harness.ts';
import { ApiError, KubeClient, isConflict, isForbidden, isNotFound, type KubeObject, type RequestInfo } from './client.ts';
import { RESOURCES, collectionPath, objectPath } from './resources.ts';

const CRD_FILE = new URL('../../crds/apiaccess.dev_apiaccessprofiles.yaml', import.meta.url);

function configMap(namespace: string, name: string, data: Record<string, string>): KubeObject & { apiVersion: string; kind: string } {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data };
}

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ApiError, `expected an ApiError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the request to fail');
}

describe('KubeClient', () => {
  const requests: RequestInfo[] = [];
  let client: KubeClient;
  let ns: string;

  before(async () => {
    client = KubeClient.fromKubeConfig(kubeConfig('admin'), { onRequest: (info) => requests.push(info) });
    ns = await createNamespace('kube-client');
  });
  after(() => client.close());

  it('GIVEN a ConfigMap WHEN applied, read, re-applied and deleted THEN each step is visible', async () => {
    const path = objectPath(RESOURCES.ConfigMap, ns, 'round-trip');
    assert.equal(await client.get(path), undefined);

    const created = await client.apply<KubeObject>(configMap(ns, 'round-trip', { a: '1' }), { fieldManager: 'test-a' });
    assert.deepEqual(created.data, { a: '1' });
    const read = await client.get<KubeObject>(path);
    assert.equal(read?.metadata.uid, created.metadata.uid);

    // Re-applying what was read proves server-owned metadata is stripped (SSA rejects managedFields).
    const changed = await client.apply<KubeObject>({ ...(read as KubeObject & { apiVersion: string; kind: string }), data: { a: '2' } }, { fieldManager: 'test-a' });
    assert.deepEqual(changed.data, { a: '2' });

    assert.equal(await client.delete(path, { propagationPolicy: 'Background', preconditionsUid: created.metadata.uid }), true);
    assert.equal(await client.get(path), undefined);
    assert.equal(await client.delete(path), false);
  });

  it('GIVEN a dry run WHEN applied THEN nothing is stored', async () => {
    const result = await client.apply<KubeObject>(configMap(ns, 'dry', { a: '1' }), { fieldManager: 'test-a', dryRun: true });
    assert.equal(result.metadata.name, 'dry');
    assert.equal(await client.get(objectPath(RESOURCES.ConfigMap, ns, 'dry')), undefined);
  });

  it('GIVEN a missing object WHEN requested THEN ApiError 404 NotFound names method and path', async () => {
    const path = objectPath(RESOURCES.ConfigMap, ns, 'missing');
    const error = await rejection(client.request('GET', path));
    assert.equal(error.status, 404);
    assert.equal(error.reason, 'NotFound');
    assert.equal(error.code, 'ApiError');
    assert.ok(isNotFound(error));
    assert.match(error.message, new RegExp(`^GET ${path}: configmaps "missing" not found$`));
  });

  it('GIVEN a field owned by another manager WHEN applied without force THEN 409 Conflict, with force it wins', async () => {
    await client.apply(configMap(ns, 'contested', { k: 'a' }), { fieldManager: 'manager-a' });
    const error = await rejection(client.apply(configMap(ns, 'contested', { k: 'b' }), { fieldManager: 'manager-b' }));
    assert.equal(error.status, 409);
    assert.equal(error.reason, 'Conflict');
    assert.ok(isConflict(error));
    assert.match(error.message, /conflict/i);

    const forced = await client.apply<KubeObject>(configMap(ns, 'contested', { k: 'b' }), { fieldManager: 'manager-b', force: true });
    assert.deepEqual(forced.data, { k: 'b' });
  });

  it('GIVEN a precondition on another uid WHEN deleting THEN 409 Conflict and the object stays', async () => {
    await client.apply(configMap(ns, 'guarded', {}), { fieldManager: 'test-a' });
    const path = objectPath(RESOURCES.ConfigMap, ns, 'guarded');
    const error = await rejection(client.delete(path, { preconditionsUid: '00000000-0000-0000-0000-000000000000' }));
    assert.ok(isConflict(error));
    assert.notEqual(await client.get(path), undefined);
  });

  it('GIVEN a user without rights WHEN listing THEN 403 Forbidden, and the token appears nowhere in the error', async () => {
    const alice = KubeClient.fromKubeConfig(kubeConfig('alice'));
    try {
      const error = await rejection(alice.request('GET', collectionPath(RESOURCES.ConfigMap, ns)));
      assert.ok(isForbidden(error));
      assert.equal(error.reason, 'Forbidden');
      const token = testCluster().tokens.alice;
      assert.ok(!JSON.stringify({ ...error, message: error.message }).includes(token));
      assert.ok(!String(error.stack).includes(token));
    } finally {
      alice.close();
    }
  });

  it('GIVEN a wrong token WHEN requesting THEN 401 Unauthorized', async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: testCluster().server, caFile: testCluster().caFile, skipTLSVerify: false }],
      users: [{ name: 'u', token: 'not-a-valid-token' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const stranger = KubeClient.fromKubeConfig(kc);
    try {
      const error = await rejection(stranger.request('GET', '/api/v1/namespaces'));
      assert.equal(error.status, 401);
      assert.equal(error.reason, 'Unauthorized');
    } finally {
      stranger.close();
    }
  });

  it('GIVEN a server whose certificate is not trusted WHEN requesting THEN TLS verification fails', async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: testCluster().server, skipTLSVerify: false }],
      users: [{ name: 'u', token: testCluster().tokens.admin }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const untrusting = KubeClient.fromKubeConfig(kc);
    try {
      const error = await rejection(untrusting.request('GET', '/version'));
      assert.equal(error.status, 0);
      assert.equal(error.reason, 'NetworkError');
    } finally {
      untrusting.close();
    }
  });

  it('GIVEN 20 sequential requests WHEN sent THEN one keep-alive connection carries them all', async () => {
    const fresh = KubeClient.fromKubeConfig(kubeConfig('admin'));
    try {
      for (let i = 0; i < 20; i += 1) await fresh.get(objectPath(RESOURCES.Namespace, undefined, ns));
      assert.equal(fresh.connectionsOpened, 1);
      // Failures (404) must not cost a connection either.
      for (let i = 0; i < 5; i += 1) await fresh.get(objectPath(RESOURCES.ConfigMap, ns, 'missing'));
      assert.equal(fresh.connectionsOpened, 1);
    } finally {
      fresh.close();
    }
  });

  it('GIVEN a closed client WHEN requesting THEN it refuses', async () => {
    const fresh = KubeClient.fromKubeConfig(kubeConfig('admin'));
    fresh.close();
    await assert.rejects(fresh.request('GET', '/version'), /closed/);
  });

  it('GIVEN a tiny timeout WHEN the server holds the request THEN ApiError Timeout', async () => {
    // A watch with a server timeout of 5 s sends headers but no body: the exchange cannot complete.
    const error = await rejection(
      client.request('GET', collectionPath(RESOURCES.ConfigMap, ns), { query: { watch: true, timeoutSeconds: 5 }, timeoutMs: 300 }),
    );
    assert.equal(error.reason, 'Timeout');
    assert.equal(error.status, 0);
  });

  it('GIVEN onRequest WHEN requests complete THEN it reports verb, path without query and status', () => {
    const missing = requests.find((r) => r.path === objectPath(RESOURCES.ConfigMap, ns, 'missing'));
    assert.deepEqual({ verb: missing?.verb, status: missing?.status }, { verb: 'GET', status: 404 });
    assert.ok(requests.every((r) => !r.path.includes('?') && r.durationMs >= 0));
    assert.ok(requests.some((r) => r.verb === 'PATCH' && r.status === 200));
  });

  it('GIVEN a custom resource WHEN its status is applied to the status subresource THEN status is stored and spec untouched', async () => {
    const crd = parseYaml(readFileSync(CRD_FILE, 'utf8'));
    await applyYaml(crd, { fieldManager: 'kube-client-test' });
    const profilePath = objectPath(RESOURCES.ApiAccessProfile, ns, 'p1');
    const profile = {
      apiVersion: 'apiaccess.dev/v1alpha1',
      kind: 'ApiAccessProfile',
      metadata: { name: 'p1', namespace: ns },
      spec: { auth: 'ServiceAccount', permissions: { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] } },
    };
    const created = await waitFor(async () => await client.apply<KubeObject>(profile, { fieldManager: 'test-a' }), { what: 'the CRD to be served', timeoutMs: 20_000 });
    const status = { observedGeneration: 1 };
    // Without subresource, status would be dropped before sending; with it, spec must be ignored.
    const applied = await client.apply<KubeObject>({ ...profile, status }, { fieldManager: 'status-writer', subresource: 'status' });
    assert.deepEqual((applied.status as Record<string, unknown>).observedGeneration, 1);
    const stored = await client.get<KubeObject>(profilePath);
    assert.deepEqual(stored?.spec, created.spec);
    assert.equal(stored?.metadata.generation, created.metadata.generation, 'a status write does not bump generation');
    assert.equal((stored?.status as Record<string, unknown>).observedGeneration, 1);
  });
});
