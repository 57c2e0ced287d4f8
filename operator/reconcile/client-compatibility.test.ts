import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { profile } from '../desired/fixtures.ts';
import { clientCompatibility } from './client-compatibility.ts';
import { inspectKubeconfig } from './kubeconfig-inspection.ts';

describe('ClientsCompatible', () => {
  it('is True for the default token lifetime, which the API server extends for clients that read the token once', () => {
    assert.equal(clientCompatibility(profile({ auth: 'Kubeconfig' }))?.status, 'True');
  });

  it('warns, naming the clients and the fix, when the lifetime or audience is not the extended default', () => {
    const short = clientCompatibility(profile({ auth: 'Kubeconfig', kubeconfig: { tokenExpirationSeconds: 600 } }));
    assert.equal(short?.status, 'False');
    assert.equal(short?.reason, 'TokenExpiresForReadOnceClients');
    assert.match(short?.message ?? '', /tokenExpirationSeconds is 600.*Python client and @kubernetes\/client-node.*auth: Proxy/);
    assert.match(clientCompatibility(profile({ auth: 'Kubeconfig', kubeconfig: { audience: 'vault' } }))?.message ?? '', /audience "vault"/);
  });

  it('warns when a user kubeconfig in a ConfigMap names tokenFile only, which client-node ignores', () => {
    const kubeconfig = 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://k:6443"}}]\nusers: [{name: u, user: {tokenFile: /var/run/t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n';
    const inspection = inspectKubeconfig(kubeconfig);
    const c = clientCompatibility(profile({ auth: 'Kubeconfig', kubeconfig: { source: 'ConfigMap', name: 'kc' } }), { source: 'ConfigMap', name: 'kc', key: 'kubeconfig', found: true, inspection });
    assert.equal(c?.reason, 'TokenFileIgnored');
    assert.match(c?.message ?? '', /add token-file: \/var\/run\/t/);
    const both = inspectKubeconfig(kubeconfig.replace('{tokenFile: /var/run/t}', '{tokenFile: /var/run/t, token-file: /var/run/t}'));
    assert.equal(clientCompatibility(profile({ auth: 'Kubeconfig', kubeconfig: { source: 'ConfigMap', name: 'kc' } }), { source: 'ConfigMap', name: 'kc', key: 'kubeconfig', found: true, inspection: both }), undefined);
  });

  it('says nothing where every client works or the operator cannot know (ServiceAccount, Proxy, user kubeconfigs)', () => {
    assert.equal(clientCompatibility(profile({ auth: 'ServiceAccount' })), undefined);
    assert.equal(clientCompatibility(profile({ auth: 'Proxy' })), undefined);
    assert.equal(clientCompatibility(profile({ auth: 'Kubeconfig', kubeconfig: { source: 'Secret', name: 'kc' } })), undefined);
  });
});
