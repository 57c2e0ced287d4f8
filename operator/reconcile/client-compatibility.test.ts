import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { profile } from '../desired/fixtures.ts';
import { clientCompatibility } from './client-compatibility.ts';

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

  it('says nothing where every client works or the operator cannot know (ServiceAccount, Proxy, user kubeconfigs)', () => {
    assert.equal(clientCompatibility(profile({ auth: 'ServiceAccount' })), undefined);
    assert.equal(clientCompatibility(profile({ auth: 'Proxy' })), undefined);
    assert.equal(clientCompatibility(profile({ auth: 'Kubeconfig', kubeconfig: { source: 'Secret', name: 'kc' } })), undefined);
  });
});
