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
    // tokenFile for client-go, kubectl and Python; token-file for @kubernetes/client-node (decision 0017).
    assert.deepEqual(config.users, [{ name: 'agent', user: { tokenFile: '/etc/kip/token', 'token-file': '/etc/kip/token' } }]);
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

describe('generated kubeconfig in Proxy mode', () => {
  it('points at the proxy on 127.0.0.1 and carries no credential and no CA: the sidecar holds both', () => {
    const p = profile({ auth: 'Proxy', proxy: { port: 8101 }, permissions: { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] } });
    const cm = desiredKubeconfigConfigMap(p);
    const config = parse(cm?.data?.kubeconfig ?? '') as { clusters: unknown; users: unknown; contexts: Array<{ context: { namespace: string } }> };
    assert.deepEqual(config.clusters, [{ name: 'default', cluster: { server: 'http://127.0.0.1:8101' } }]);
    assert.deepEqual(config.users, [{ name: 'agent', user: {} }]);
    assert.equal(config.contexts[0]?.context.namespace, 'team-a');
  });
});
