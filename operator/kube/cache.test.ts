// Integration: ListWatchCache against the real local control plane (run through test/run.ts).
import assert from 'node:assert/strict';
import { setTimeout as wait } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { createNamespace, kubeConfig, testCluster, waitFor } from '../../test/harness.ts';
import { ListWatchCache, type CacheEvent, type CacheOptions } from './cache.ts';
import { KubeClient, type KubeObject, type RequestInfo } from './client.ts';
import { RESOURCES, objectPath } from './resources.ts';
import { captureLogger, type CapturedLogger } from './test-support.ts';

type ConfigMap = KubeObject & { data?: Record<string, string> };

const FIELD_MANAGER = 'cache-test';
/** The controller manager publishes this ConfigMap into every namespace. */
const NOT_ROOT_CA = 'metadata.name!=kube-root-ca.crt';

/** Compacts etcd to its current revision, as kube-apiserver does every 5 minutes, so older resourceVersions expire. */
async function compactEtcd(): Promise<void> {
  const etcd = testCluster().etcdUrl;
  const range = await fetch(`${etcd}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: 'AA==' }) });
  const { header } = (await range.json()) as { header: { revision: string } };
  const compaction = await fetch(`${etcd}/v3/kv/compaction`, { method: 'POST', body: JSON.stringify({ revision: header.revision, physical: true }) });
  assert.equal(compaction.status, 200, await compaction.text());
}

describe('ListWatchCache', { timeout: 60_000 }, () => {
  let client: KubeClient;
  // Everything a test starts is stopped here too, so a failing test cannot keep the process alive.
  const caches: Array<ListWatchCache<KubeObject>> = [];
  const clients: KubeClient[] = [];

  before(() => {
    client = KubeClient.fromKubeConfig(kubeConfig('admin'));
    clients.push(client);
  });
  after(async () => {
    await Promise.all(caches.map((c) => c.stop()));
    for (const c of clients) c.close();
  });

  function ownClient(user: 'admin' | 'alice' = 'admin', requests?: RequestInfo[]): KubeClient {
    const c = KubeClient.fromKubeConfig(kubeConfig(user), requests ? { onRequest: (r) => requests.push(r) } : {});
    clients.push(c);
    return c;
  }

  function tracked<T extends KubeObject>(options: CacheOptions<T>): ListWatchCache<T> {
    const c = new ListWatchCache<T>(options);
    caches.push(c as unknown as ListWatchCache<KubeObject>);
    return c;
  }

  async function put(ns: string, name: string, data: Record<string, string> = {}, labels?: Record<string, string>): Promise<ConfigMap> {
    return await client.apply<ConfigMap>(
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns, ...(labels ? { labels } : {}) }, data },
      { fieldManager: FIELD_MANAGER, force: true },
    );
  }

  async function remove(ns: string, name: string): Promise<void> {
    await client.delete(objectPath(RESOURCES.ConfigMap, ns, name));
  }

  function cache(ns: string, extra: Partial<CacheOptions> = {}, log: CapturedLogger = captureLogger()): {
    cache: ListWatchCache<ConfigMap>;
    events: Array<CacheEvent<ConfigMap>>;
    log: CapturedLogger;
  } {
    const c = tracked<ConfigMap>({ client, resource: RESOURCES.ConfigMap, namespace: ns, name: 'configmaps', logger: log.logger, fieldSelector: NOT_ROOT_CA, ...extra });
    const events: Array<CacheEvent<ConfigMap>> = [];
    c.on((e) => void events.push(e));
    return { cache: c, events, log };
  }

  const summary = (events: Array<CacheEvent<ConfigMap>>): string[] => events.map((e) => `${e.type} ${e.object.metadata.name}`);

  async function eventually(events: Array<CacheEvent<ConfigMap>>, expected: string, timeoutMs = 10_000): Promise<void> {
    await waitFor(async () => summary(events).includes(expected), { timeoutMs, what: `${expected} (have: ${summary(events).join(', ')})` });
  }

  it('GIVEN existing objects WHEN started THEN it syncs, then reports ADDED, MODIFIED and DELETED', async () => {
    const ns = await createNamespace('cache-basic');
    await put(ns, 'a', { v: '1' });
    const { cache: c, events } = cache(ns);
    assert.equal(c.synced, false);
    c.start();
    await c.waitForSync(AbortSignal.timeout(10_000));
    assert.equal(c.synced, true);
    assert.deepEqual(summary(events), ['ADDED a']);
    assert.equal(c.get(ns, 'a')?.data?.v, '1');
    assert.equal(c.get(ns, 'a')?.kind, 'ConfigMap');

    await put(ns, 'b');
    await eventually(events, 'ADDED b');
    await put(ns, 'a', { v: '2' });
    await eventually(events, 'MODIFIED a');
    const modified = events.find((e) => e.type === 'MODIFIED');
    assert.equal(modified?.old?.data?.v, '1');
    assert.equal(modified?.object.data?.v, '2');
    await remove(ns, 'b');
    await eventually(events, 'DELETED b');

    assert.deepEqual(c.list(ns).map((o) => o.metadata.name), ['a']);
    assert.deepEqual(c.list('other'), []);
    assert.equal(c.get(ns, 'b'), undefined);
    assert.equal(c.get(ns, 'a')?.data?.v, '2');
    assert.deepEqual({ lists: c.stats.lists, relists: c.stats.relists, errors: c.stats.errors }, { lists: 1, relists: 0, errors: 0 });
  });

  it('GIVEN a label-selected cache WHEN the label is removed THEN it reports DELETED and drops the object', async () => {
    const ns = await createNamespace('cache-label');
    await put(ns, 'labelled', {}, { 'apiaccess.dev/profile': 'p' });
    await put(ns, 'plain');
    const { cache: c, events } = cache(ns, { labelSelector: 'apiaccess.dev/profile' });
    c.start();
    await c.waitForSync();
    assert.deepEqual(summary(events), ['ADDED labelled']);

    await put(ns, 'labelled', {}); // the field manager owned the label: applying without it removes it
    await eventually(events, 'DELETED labelled');
    assert.equal(c.get(ns, 'labelled'), undefined);
    assert.deepEqual(summary(events), ['ADDED labelled', 'DELETED labelled']);
  });

  it('GIVEN changes while not watching WHEN the next watch gets 410 THEN the relist reports them, deletions included', async () => {
    // Events: the one resource kube-apiserver serves without a watch cache, so an etcd compaction
    // makes the cache's resourceVersion expire at once, as a long outage would.
    const ns = await createNamespace('cache-gap');
    const label = { 'apiaccess.dev/profile': 'p' };
    const event = async (name: string, message: string, labels?: Record<string, string>): Promise<void> => {
      await client.apply(
        {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name, namespace: ns, ...(labels ? { labels } : {}) },
          involvedObject: { apiVersion: 'v1', kind: 'ConfigMap', name: 'x', namespace: ns },
          reason: 'Test',
          message,
          type: 'Normal',
        },
        { fieldManager: FIELD_MANAGER, force: true },
      );
    };
    await Promise.all(['a', 'b', 'c'].map((n) => event(n, 'v1', label)));
    const log = captureLogger();
    const c = tracked<KubeObject>({ client, resource: RESOURCES.Event, namespace: ns, labelSelector: 'apiaccess.dev/profile', name: 'events', logger: log.logger });
    const events: Array<CacheEvent<KubeObject>> = [];
    c.on((e) => void events.push(e));
    c.start();
    await c.waitForSync();
    assert.equal(c.list(ns).length, 3);
    events.length = 0;

    await c.simulateGapForTest(async () => {
      await client.delete(objectPath(RESOURCES.Event, ns, 'a'));
      await event('b', 'v1'); // label removed while nobody watched
      await event('c', 'v2', label);
      await event('d', 'v1', label);
      await compactEtcd();
    });
    await waitFor(async () => c.stats.relists === 1 && events.length >= 4, { what: `a relist (stats ${JSON.stringify(c.stats)})` });
    assert.deepEqual(events.map((e) => `${e.type} ${e.object.metadata.name}`).sort(), ['ADDED d', 'DELETED a', 'DELETED b', 'MODIFIED c']);
    assert.equal(events.find((e) => e.type === 'MODIFIED')?.old?.message, 'v1');
    assert.deepEqual(c.list(ns).map((o) => o.metadata.name).sort(), ['c', 'd']);
    assert.equal(c.stats.lists, 2);
    assert.equal(c.stats.errors, 0);
    assert.ok(log.records.some((r) => r.msg === 'Relisted Event after its resourceVersion expired'));

    await event('e', 'v1', label);
    await waitFor(async () => events.some((e) => e.type === 'ADDED' && e.object.metadata.name === 'e'), { what: 'ADDED e after the relist' });
  });

  it('GIVEN a running cache WHEN stopped THEN no error is reported, no event delivered and no request sent afterwards', async () => {
    const ns = await createNamespace('cache-stop');
    const requests: RequestInfo[] = [];
    const own = ownClient('admin', requests);
    const log = captureLogger();
    const c = tracked<ConfigMap>({ client: own, resource: RESOURCES.ConfigMap, namespace: ns, name: 'stopping', logger: log.logger, timeoutSeconds: 1, fieldSelector: NOT_ROOT_CA });
    const events: Array<CacheEvent<ConfigMap>> = [];
    c.on((e) => void events.push(e));
    c.start();
    await c.waitForSync();
    await wait(100); // the watch is established
    await c.stop();
    const sent = requests.length;
    await put(ns, 'after-stop');
    c.start(); // no restart after stop
    await wait(1500); // longer than the watch timeout: a living loop would re-watch
    assert.equal(requests.length, sent);
    assert.deepEqual(events, []);
    assert.deepEqual(log.records.filter((r) => (r.level as number) >= 40), []);
    assert.deepEqual({ errors: c.stats.errors, watches: c.stats.watches }, { errors: 0, watches: 1 });
  });

  it('GIVEN handlers that throw or reject THEN the others still receive every event and the cache keeps running', async () => {
    const ns = await createNamespace('cache-handlers');
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const { cache: c, events, log } = cache(ns);
      c.on(() => {
        throw new Error('sync handler failure');
      });
      c.on(async () => {
        throw new Error('async handler failure');
      });
      const after: string[] = [];
      c.on((e) => void after.push(`${e.type} ${e.object.metadata.name}`));
      c.start();
      await c.waitForSync();
      await put(ns, 'one');
      await put(ns, 'two');
      await eventually(events, 'ADDED two');
      await wait(50);
      assert.deepEqual(after, ['ADDED one', 'ADDED two']);
      const failures = log.records.filter((r) => r.msg === 'Caught failing ConfigMap event handler');
      assert.equal(failures.length, 4);
      assert.equal(c.stats.errors, 0);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('GIVEN a short server timeout THEN the watch reconnects without a list, an error or a new connection', async () => {
    const ns = await createNamespace('cache-rewatch');
    const own = ownClient();
    const c = tracked<ConfigMap>({ client: own, resource: RESOURCES.ConfigMap, namespace: ns, name: 'rewatch', logger: captureLogger().logger, timeoutSeconds: 2 });
    const events: Array<CacheEvent<ConfigMap>> = [];
    c.on((e) => void events.push(e));
    c.start();
    await c.waitForSync();
    await waitFor(async () => c.stats.watches >= 3, { timeoutMs: 15_000, what: 'three watches' });
    await put(ns, 'late');
    await eventually(events, 'ADDED late');
    assert.deepEqual({ lists: c.stats.lists, relists: c.stats.relists, errors: c.stats.errors }, { lists: 1, relists: 0, errors: 0 });
    // Finished watches return their connection to the pool; one socket may still be busy with the last.
    assert.ok(own.connectionsOpened <= 2, `${own.connectionsOpened} connections for ${c.stats.watches} watches`);
  });

  it('GIVEN a silent watch THEN the inactivity watchdog aborts it and the cache re-watches', async () => {
    const ns = await createNamespace('cache-silent');
    const { cache: c, events, log } = cache(ns, { timeoutSeconds: 120, inactivityMs: 300, backoff: { initialMs: 20, maxMs: 50 } });
    c.start();
    await c.waitForSync();
    await waitFor(async () => c.stats.errors >= 2 && c.stats.watches >= 3, { timeoutMs: 5000, what: `silent watches to be aborted (${JSON.stringify(c.stats)})` });
    assert.ok(log.records.some((r) => r.msg === 'Aborted silent ConfigMap watch'));
    assert.equal(c.stats.lists, 1, 'a silent watch resumes from its resourceVersion, no relist');
    await put(ns, 'x');
    await eventually(events, 'ADDED x');
  });

  it('GIVEN more objects than a page WHEN listing THEN every page is read', async () => {
    const ns = await createNamespace('cache-pages');
    await Promise.all(['p1', 'p2', 'p3', 'p4', 'p5'].map((n) => put(ns, n)));
    const requests: RequestInfo[] = [];
    const own = ownClient('admin', requests);
    const c = tracked<ConfigMap>({ client: own, resource: RESOURCES.ConfigMap, namespace: ns, name: 'pages', logger: captureLogger().logger, pageSize: 2, fieldSelector: NOT_ROOT_CA });
    c.start();
    await c.waitForSync();
    assert.equal(c.list().length, 5);
    assert.equal(requests.filter((r) => r.verb === 'GET').length, 3);
  });

  it('GIVEN a user who may not list WHEN started THEN it retries with backoff, never syncs, and still stops cleanly', async () => {
    const ns = await createNamespace('cache-forbidden');
    const alice = ownClient('alice');
    const log = captureLogger();
    const c = tracked<ConfigMap>({ client: alice, resource: RESOURCES.ConfigMap, namespace: ns, name: 'forbidden', logger: log.logger, backoff: { initialMs: 20, maxMs: 40 } });
    c.start();
    await assert.rejects(c.waitForSync(AbortSignal.timeout(500)), { name: 'TimeoutError' });
    assert.ok(c.stats.errors >= 3, `errors ${c.stats.errors}`);
    assert.equal(c.synced, false);
    const pending = c.waitForSync();
    await c.stop();
    await assert.rejects(pending, /stopped before it synced/);
    const failure = log.records.find((r) => r.msg === 'Failed to list ConfigMap');
    assert.equal((failure?.err as { reason?: string } | undefined)?.reason, 'Forbidden');
  });

  it('GIVEN an optional resource the API server does not serve THEN it syncs empty, says so once and sends nothing more', async () => {
    const requests: RequestInfo[] = [];
    const own = ownClient('admin', requests);
    const log = captureLogger();
    const absent = { group: 'absent.apiaccess.dev', version: 'v1', plural: 'widgets', kind: 'Widget', namespaced: false };
    const c = tracked<KubeObject>({ client: own, resource: absent, name: 'absent', logger: log.logger, optional: true, backoff: { initialMs: 20, maxMs: 40 } });
    c.start();
    await c.waitForSync(AbortSignal.timeout(5_000));
    assert.equal(c.served, false);
    assert.deepEqual(c.list(), []);
    await wait(300);
    assert.equal(requests.length, 1, 'one LIST, then nothing (no polling)');
    assert.equal(log.records.filter((r) => r.msg === 'The API server does not serve Widget').length, 1);
  });

  it('GIVEN a resource the API server does not serve and the cache not optional THEN it keeps retrying and never syncs', async () => {
    const absent = { group: 'absent.apiaccess.dev', version: 'v1', plural: 'widgets', kind: 'Widget', namespaced: false };
    const c = tracked<KubeObject>({ client, resource: absent, name: 'required', logger: captureLogger().logger, backoff: { initialMs: 20, maxMs: 40 } });
    c.start();
    await assert.rejects(c.waitForSync(AbortSignal.timeout(400)), { name: 'TimeoutError' });
    assert.ok(c.stats.errors >= 2);
  });
});
