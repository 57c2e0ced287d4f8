import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { walkKubeconfig, type KubeconfigEntry } from './kubeconfig-walk.ts';

const config = (overrides: KubeconfigEntry = {}): KubeconfigEntry => ({
  clusters: [
    { name: 'other', cluster: { server: 'https://other.example' } },
    { name: 'k', cluster: { server: 'https://[fd00::1]:6443', 'tls-server-name': 'kubernetes' } },
  ],
  users: [{ name: 'u', user: { token: 't' } }],
  contexts: [{ name: 'c', context: { cluster: 'k', user: 'u', namespace: 'team-a' } }],
  'current-context': 'c',
  ...overrides,
});

describe('kubeconfig walk', () => {
  it('GIVEN a complete chain THEN current-context leads to its context, cluster, server and user', () => {
    const walked = walkKubeconfig(config());
    assert.ok(walked.ok);
    const { contextName, context, clusterName, cluster, server, url, userName, user } = walked.walk;
    assert.deepEqual(
      { contextName, namespace: context.namespace, clusterName, tlsServerName: cluster['tls-server-name'], server, host: url.hostname, userName, user },
      { contextName: 'c', namespace: 'team-a', clusterName: 'k', tlsServerName: 'kubernetes', server: 'https://[fd00::1]:6443', host: '[fd00::1]', userName: 'u', user: { token: 't' } },
    );
  });

  it('GIVEN a context without user THEN the walk succeeds with no credential (anonymous)', () => {
    const walked = walkKubeconfig(config({ contexts: [{ name: 'c', context: { cluster: 'k' } }], users: [] }));
    assert.ok(walked.ok);
    assert.deepEqual([walked.walk.userName, walked.walk.user], ['', {}]);
  });

  const broken: Array<[string, KubeconfigEntry, string]> = [
    ['no current-context', config({ 'current-context': '' }), 'current-context is not set'],
    ['a current-context without entry', config({ 'current-context': 'x' }), 'current-context "x" names no entry in contexts'],
    ['contexts that are not a list', config({ contexts: { c: {} } }), 'current-context "c" names no entry in contexts'],
    ['a context naming a missing cluster', config({ clusters: [] }), 'context "c" names cluster "k", which is not in clusters'],
    ['a cluster without server', config({ clusters: [{ name: 'k', cluster: {} }] }), 'cluster "k" has no server URL: expected http(s)://, got null'],
    ['a server that is not http(s)', config({ clusters: [{ name: 'k', cluster: { server: 'k8s.example:6443' } }] }), 'cluster "k" has no server URL: expected http(s)://, got "k8s.example:6443"'],
    ['a server URL that does not parse', config({ clusters: [{ name: 'k', cluster: { server: 'https://[bad' } }] }), 'cluster "k" has an invalid server URL https://[bad'],
    ['a context naming a missing user', config({ users: [{ name: 'v', user: {} }] }), 'context "c" names user "u", which is not in users'],
  ];
  for (const [what, document, problem] of broken) {
    it(`GIVEN ${what} THEN it says where the chain breaks`, () => {
      assert.deepEqual(walkKubeconfig(document), { ok: false, problem });
    });
  }
});
