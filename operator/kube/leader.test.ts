// Integration: Lease-based leader election against the real local control plane.
import assert from 'node:assert/strict';
import { setTimeout as wait } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { createNamespace, kubeConfig, waitFor } from '../../test/harness.ts';
import { KubeClient, type KubeObject, type RequestInfo } from './client.ts';
import { LeaderElector, microTime, type LeaderElectorOptions } from './leader.ts';
import { RESOURCES, objectPath } from './resources.ts';
import { captureLogger } from './test-support.ts';

interface Lease extends KubeObject {
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; leaseTransitions?: number; acquireTime?: string; renewTime?: string };
}

/** Fast timings: a successor that waited for expiry would need 4 s, one that saw a release < 1 s. */
const FAST = { leaseDurationSeconds: 4, renewDeadlineSeconds: 2, retryPeriodSeconds: 0.25 };

describe('LeaderElector', { timeout: 60_000 }, () => {
  let admin: KubeClient;
  let ns: string;
  const clients: KubeClient[] = [];
  const electors: LeaderElector[] = [];

  before(async () => {
    admin = client();
    ns = await createNamespace('leader');
  });
  after(async () => {
    await Promise.all(electors.map((e) => e.stop()));
    for (const c of clients) c.close();
  });

  function client(user: 'admin' | 'alice' = 'admin', requests?: RequestInfo[]): KubeClient {
    const c = KubeClient.fromKubeConfig(kubeConfig(user), requests ? { onRequest: (r) => requests.push(r) } : {});
    clients.push(c);
    return c;
  }

  function candidate(name: string, identity: string, extra: Partial<LeaderElectorOptions> = {}): { elector: LeaderElector; started: number[]; stopped: number[] } {
    const elector = new LeaderElector({ client: admin, namespace: ns, name, identity, logger: captureLogger('silent').logger, ...FAST, ...extra });
    electors.push(elector);
    const record = { elector, started: [] as number[], stopped: [] as number[] };
    elector.run({ onStartedLeading: () => record.started.push(Date.now()), onStoppedLeading: () => record.stopped.push(Date.now()) });
    return record;
  }

  async function lease(name: string): Promise<Lease | undefined> {
    return await admin.get<Lease>(objectPath(RESOURCES.Lease, ns, name));
  }

  it('GIVEN two candidates THEN exactly one leads; WHEN it stops THEN the other takes over at once', async () => {
    const a = candidate('two', 'replica-a');
    const b = candidate('two', 'replica-b');
    await waitFor(async () => a.elector.isLeader || b.elector.isLeader, { timeoutMs: 5000, what: 'a leader' });
    await wait(1000); // several retry periods: the loser must keep losing
    const [leader, follower] = a.elector.isLeader ? [a, b] : [b, a];
    assert.equal(follower.elector.isLeader, false);
    assert.deepEqual([leader.started.length, follower.started.length], [1, 0]);
    const held = await lease('two');
    assert.equal(held?.spec.holderIdentity, a.elector.isLeader ? 'replica-a' : 'replica-b');

    await leader.elector.stop();
    assert.equal(leader.elector.isLeader, false);
    // Released, not left to expire: the follower leads while the old lease would still be valid.
    await waitFor(async () => follower.elector.isLeader, { timeoutMs: FAST.leaseDurationSeconds * 1000 * 3, what: 'the follower to take over' });
    assert.deepEqual(leader.stopped, [], 'a voluntary stop is not a loss');
    const after = await lease('two');
    assert.equal(after?.spec.holderIdentity, follower === a ? 'replica-a' : 'replica-b');
    assert.equal(after?.spec.leaseTransitions, 0, 'taking a released lease is not a transition');
  });

  it('GIVEN a lease held by a crashed replica THEN a candidate waits for it to expire, then takes over', async () => {
    const now = microTime(new Date());
    await admin.request('POST', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`, {
      body: {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: 'crashed', namespace: ns },
        spec: { holderIdentity: 'ghost', leaseDurationSeconds: 2, acquireTime: now, renewTime: now, leaseTransitions: 3 },
      },
    });
    const c = candidate('crashed', 'replica-c');
    await wait(1000);
    assert.equal(c.elector.isLeader, false, 'the ghost still holds an unexpired lease');
    await waitFor(async () => c.elector.isLeader, { timeoutMs: 5000, what: 'the takeover' });
    const taken = await lease('crashed');
    assert.equal(taken?.spec.holderIdentity, 'replica-c');
    assert.equal(taken?.spec.leaseTransitions, 4);
    assert.equal(taken?.spec.leaseDurationSeconds, FAST.leaseDurationSeconds);
    assert.notEqual(taken?.spec.acquireTime, now);
  });

  it('GIVEN a leader THEN renewing the lease is the only request it makes', async () => {
    const requests: RequestInfo[] = [];
    const c = candidate('quiet', 'replica-q', { client: client('admin', requests) });
    await waitFor(async () => c.elector.isLeader, { timeoutMs: 5000, what: 'leadership' });
    requests.length = 0;
    await wait(2000);
    const verbs = [...new Set(requests.map((r) => `${r.verb} ${r.status}`))];
    assert.deepEqual(verbs, ['PUT 200'], 'renewals are the only requests');
    assert.ok(requests.length >= 1, 'it renews');
  });

  it('GIVEN a leader that loses its rights THEN it calls onStoppedLeading within the renew deadline; get/create/update suffice', async () => {
    const rbac = { 'app.kubernetes.io/part-of': 'leader-test' };
    await admin.apply(
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'lease-elector', namespace: ns, labels: rbac },
        rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }],
      },
      { fieldManager: 'leader-test' },
    );
    await admin.apply(
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'lease-elector', namespace: ns, labels: rbac },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'lease-elector' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' }],
      },
      { fieldManager: 'leader-test' },
    );
    const c = candidate('limited', 'replica-alice', { client: client('alice') });
    await waitFor(async () => c.elector.isLeader, { timeoutMs: 5000, what: 'alice to lead with get/create/update only' });
    await wait(600); // a few renewals with those rights

    await admin.delete(objectPath(RESOURCES.RoleBinding, ns, 'lease-elector'));
    await waitFor(async () => c.stopped.length === 1, { timeoutMs: 15_000, what: 'onStoppedLeading' });
    assert.equal(c.elector.isLeader, false);
    assert.equal(c.started.length, 1);
  });

  it('rejects timings where the renew deadline does not fit inside the lease', () => {
    assert.throws(
      () => new LeaderElector({ client: admin, namespace: ns, name: 'x', identity: 'y', logger: captureLogger('silent').logger, leaseDurationSeconds: 5, renewDeadlineSeconds: 5 }),
      /leaseDurationSeconds \(5\) > renewDeadlineSeconds \(5\)/,
    );
  });
});
