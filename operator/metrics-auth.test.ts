// The caching and the verdicts of MetricsAuth over a scripted API (the real TokenReview and
// SubjectAccessReview are exercised in test/operator-install.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeClient } from './kube/client.ts';
import { MetricsAuth } from './metrics-auth.ts';

function api(users: Record<string, { user: string; allowed: boolean }>): { client: KubeClient; calls: string[] } {
  const calls: string[] = [];
  const request = async (_verb: string, path: string, opts: { body: any }): Promise<unknown> => {
    calls.push(path.split('/').at(-1)!);
    if (path.endsWith('tokenreviews')) {
      const u = users[opts.body.spec.token];
      return { status: u ? { authenticated: true, user: { username: u.user, groups: ['system:authenticated'] } } : { authenticated: false } };
    }
    return { status: { allowed: Object.values(users).find((u) => u.user === opts.body.spec.user)?.allowed === true } };
  };
  return { client: { request } as unknown as KubeClient, calls };
}

describe('metrics authentication and authorization', () => {
  it('answers 401 without a bearer token or with one the API server rejects, and 403 to a user without get /metrics', async () => {
    const { client } = api({ good: { user: 'prometheus', allowed: true }, other: { user: 'someone', allowed: false } });
    const auth = new MetricsAuth(client);
    assert.equal((await auth.check(undefined)).status, 401);
    assert.equal((await auth.check('Basic abc')).status, 401);
    assert.equal((await auth.check('Bearer nope')).status, 401);
    const refused = await auth.check('Bearer other');
    assert.equal(refused.status, 403);
    assert.match(refused.status === 403 ? refused.message : '', /someone may not get \/metrics/);
    assert.equal((await auth.check('Bearer good')).status, 200);
  });

  it('asks the API server once per token for 5 minutes when allowed, and again after 30 s when refused', async () => {
    let now = 0;
    const { client, calls } = api({ good: { user: 'prometheus', allowed: true }, other: { user: 'someone', allowed: false } });
    const auth = new MetricsAuth(client, () => now);
    await auth.check('Bearer good');
    await auth.check('Bearer other');
    assert.equal(calls.length, 4);
    now = 60_000;
    await auth.check('Bearer good');
    await auth.check('Bearer other');
    assert.equal(calls.length, 6, 'the refusal expired after 30 s; the allowed verdict did not');
    now = 5 * 60_000 + 1;
    await auth.check('Bearer good');
    assert.equal(calls.length, 8);
  });
});
