import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { inspectKubeconfig } from './kubeconfig-inspection.ts';

const config = (user: Record<string, unknown>, extra: Record<string, unknown> = {}): string =>
  stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'k', cluster: { server: 'https://10.20.30.40:6443' } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
    'current-context': 'c',
    ...extra,
  });
const jwt = (claims: object): string => ['e30', Buffer.from(JSON.stringify(claims)).toString('base64url'), 'sig'].join('.');

describe('user kubeconfig inspection', () => {
  it('accepts a kubeconfig that names files only, with no credential', () => {
    const r = inspectKubeconfig(config({ 'client-certificate': '/etc/kip-tls/tls.crt', 'client-key': '/etc/kip-tls/tls.key' }));
    assert.ok(r.ok);
    assert.deepEqual(r.credentials, []);
    assert.equal(r.server, 'https://10.20.30.40:6443');
  });

  it('finds every credential by path without returning its value', () => {
    const r = inspectKubeconfig(config({ token: 'abc.def.ghi', 'client-key-data': 'S0VZ', 'auth-provider': { name: 'oidc', config: { 'refresh-token': 'r' } } }));
    assert.ok(r.ok);
    assert.deepEqual(r.credentials, ['users[0].user.token', 'users[0].user.client-key-data', 'users[0].user.auth-provider.config.refresh-token']);
    assert.doesNotMatch(JSON.stringify(r), /S0VZ|abc\.def/);
  });

  it('names the ServiceAccount a token claims to be (signature not verified)', () => {
    const r = inspectKubeconfig(config({ token: jwt({ sub: 'system:serviceaccount:kube-system:kip' }) }));
    assert.ok(r.ok);
    assert.deepEqual(r.identity, { kind: 'ServiceAccountToken', username: 'system:serviceaccount:kube-system:kip', namespace: 'kube-system', serviceAccount: 'kip' });
  });

  const malformed: Array<[string, string, RegExp]> = [
    ['broken YAML', 'clusters: [', /not valid YAML/],
    ['a list document', '- a\n- b', /not a mapping/],
    ['no current-context', config({}, { 'current-context': '' }), /current-context is not set/],
    ['a current-context without entry', config({}, { 'current-context': 'other' }), /"other" names no entry in contexts/],
    ['a context naming a missing cluster', config({}, { clusters: [] }), /cluster "k", which is not in clusters/],
    ['a cluster without server', config({}, { clusters: [{ name: 'k', cluster: {} }] }), /has no server URL/],
    ['a context naming a missing user', config({}, { users: [] }), /user "u", which is not in users/],
  ];
  for (const [what, text, message] of malformed) {
    it(`reports ${what} as malformed`, () => {
      const r = inspectKubeconfig(text);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.message, message);
    });
  }
});
