import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { profile } from './fixtures.ts';
import { desiredKubeconfigConfigMap } from './kubeconfig.ts';

describe('generated kubeconfig', () => {
  it('names the server, the CA file and the token file under mountPath, and holds no credential', () => {
    const cm = desiredKubeconfigConfigMap(profile({ auth: 'Kubeconfig', kubeconfig: { mountPath: '/etc/kip/', server: 'https://10.20.30.40:6443' } }));
    assert.equal(cm?.metadata?.name, 'apiaccess-agent-kubeconfig');
    const text = cm?.data?.kubeconfig ?? '';
    const config = parse(text);
    assert.deepEqual(config.clusters, [{ name: 'default', cluster: { server: 'https://10.20.30.40:6443', 'certificate-authority': '/etc/kip/ca.crt' } }]);
    assert.deepEqual(config.users, [{ name: 'agent', user: { tokenFile: '/etc/kip/token' } }]);
    assert.equal(config.contexts[0].context.namespace, 'team-a');
    assert.equal(config['current-context'], 'default');
    assert.doesNotMatch(text, /token:|client-key|client-certificate-data|password|-data:/);
  });

  it('defaults the server to https://kubernetes.default.svc:443', () => {
    const cm = desiredKubeconfigConfigMap(profile({ auth: 'Kubeconfig' }));
    assert.equal(parse(cm?.data?.kubeconfig ?? '').clusters[0].cluster.server, 'https://kubernetes.default.svc:443');
  });

  it('exists only for auth Kubeconfig with a Generated source', () => {
    assert.equal(desiredKubeconfigConfigMap(profile({ auth: 'ServiceAccount' })), undefined);
    assert.equal(desiredKubeconfigConfigMap(profile({ auth: 'Kubeconfig', kubeconfig: { source: 'ConfigMap', name: 'kip-config' } })), undefined);
    assert.equal(desiredKubeconfigConfigMap(profile({ auth: 'Kubeconfig', kubeconfig: { source: 'Secret', name: 'kip-config' } })), undefined);
  });
});
