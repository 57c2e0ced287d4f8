import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSpec } from './apiaccessprofile.ts';

describe('ApiAccessProfile spec schema', () => {
  it('applies the documented defaults to a minimal spec', () => {
    const result = parseSpec({ auth: 'ServiceAccount' });
    assert.ok(result.ok);
    assert.deepEqual(result.spec, {
      auth: 'ServiceAccount',
      serviceAccount: { create: true },
      permissions: { scope: 'Namespace', rules: [], clusterRoles: [] },
    });
  });

  it('defaults a Kubeconfig block to a generated kubeconfig at /etc/apiaccess with KUBECONFIG', () => {
    const result = parseSpec({ auth: 'Kubeconfig', kubeconfig: {} });
    assert.ok(result.ok);
    assert.deepEqual(result.spec.kubeconfig, { source: 'Generated', key: 'kubeconfig', mountPath: '/etc/apiaccess', env: 'KUBECONFIG' });
  });

  it('accepts the full example of api.md', () => {
    const result = parseSpec({
      auth: 'Kubeconfig',
      serviceAccount: { name: 'network-agent', create: true },
      permissions: {
        scope: 'Cluster',
        rules: [{ apiGroups: [''], resources: ['pods', 'services', 'endpoints'], verbs: ['get', 'list', 'watch'] }],
        clusterRoles: ['view'],
      },
      kubeconfig: { source: 'Generated', server: 'https://10.20.30.40:6443', mountPath: '/etc/kip', fileMode: 384, env: 'KUBECONFIG', tokenExpirationSeconds: 3600, audience: '' },
      containers: ['agent'],
    });
    assert.ok(result.ok, result.ok ? '' : result.message);
  });

  const rejections: Array<[string, unknown, string, RegExp]> = [
    ['an unknown auth mode', { auth: 'Sidecar' }, 'spec.auth', /"Sidecar"/],
    ['a missing auth', {}, 'spec.auth', /missing/],
    ['a ConfigMap source without a name', { auth: 'Kubeconfig', kubeconfig: { source: 'ConfigMap' } }, 'spec.kubeconfig.name', /required when source is ConfigMap/],
    ['an http:// server', { auth: 'Kubeconfig', kubeconfig: { server: 'http://10.0.0.1' } }, 'spec.kubeconfig.server', /https:\/\/.*"http:\/\/10.0.0.1"/],
    ['a fileMode above 0777', { auth: 'Kubeconfig', kubeconfig: { fileMode: 512 } }, 'spec.kubeconfig.fileMode', /512/],
    ['a token lifetime under 600 s', { auth: 'Kubeconfig', kubeconfig: { tokenExpirationSeconds: 599 } }, 'spec.kubeconfig.tokenExpirationSeconds', /599/],
    ['server with a ConfigMap source', { auth: 'Kubeconfig', kubeconfig: { source: 'ConfigMap', name: 'x', server: 'https://a:1' } }, 'spec.kubeconfig.server', /only when source is Generated/],
    ['nonResourceURLs at Namespace scope', { auth: 'ServiceAccount', permissions: { rules: [{ nonResourceURLs: ['/healthz'], verbs: ['get'] }] } }, 'spec.permissions.rules[0].nonResourceURLs', /only allowed when scope is Cluster/],
    ['a rule without resources', { auth: 'ServiceAccount', permissions: { rules: [{ verbs: ['get'] }] } }, 'spec.permissions.rules[0]', /needs resources or nonResourceURLs/],
    ['a rule without verbs', { auth: 'ServiceAccount', permissions: { rules: [{ resources: ['pods'], verbs: [] }] } }, 'spec.permissions.rules[0].verbs', /\[\]/],
    ['an unknown scope', { auth: 'ServiceAccount', permissions: { scope: 'Global' } }, 'spec.permissions.scope', /"Global"/],
    ['an upper-case ServiceAccount name', { auth: 'ServiceAccount', serviceAccount: { name: 'Agent' } }, 'spec.serviceAccount.name', /"Agent"/],
    ['a relative mountPath', { auth: 'Kubeconfig', kubeconfig: { mountPath: 'etc/kip' } }, 'spec.kubeconfig.mountPath', /absolute/],
    ['an invalid env name', { auth: 'Kubeconfig', kubeconfig: { env: '1KUBE=' } }, 'spec.kubeconfig.env', /"1KUBE="/],
    ['an unknown field', { auth: 'ServiceAccount', serviceaccount: {} }, 'spec', /serviceaccount/],
    ['a ClusterRole name with a slash', { auth: 'ServiceAccount', permissions: { clusterRoles: ['a/b'] } }, 'spec.permissions.clusterRoles[0]', /"a\/b"/],
    ['a user kubeconfig in Proxy mode', { auth: 'Proxy', kubeconfig: { source: 'ConfigMap', name: 'kc' } }, 'spec.kubeconfig.source', /must be Generated, got ConfigMap/],
    ['a privileged proxy port', { auth: 'Proxy', proxy: { port: 80 } }, 'spec.proxy.port', /between 1024 and 65535, got 80/],
    ['a proxy resource that is not a quantity', { auth: 'Proxy', proxy: { resources: { limits: { memory: 'lots' } } } }, 'spec.proxy.resources.limits.memory', /quantity.*"lots"/],
    ['selecting the proxy sidecar', { auth: 'Proxy', containers: ['apiaccess-proxy'] }, 'spec.containers', /proxy sidecar/],
  ];
  for (const [what, spec, field, value] of rejections) {
    it(`rejects ${what}, naming ${field} and the value`, () => {
      const result = parseSpec(spec);
      assert.equal(result.ok, false);
      if (result.ok) return;
      const issue = result.issues.find((i) => i.field === field);
      assert.ok(issue, `expected an issue at ${field}, got ${result.message}`);
      assert.match(issue.message, value);
      assert.match(result.message, new RegExp(field.replace(/[[\].]/g, '\\$&')));
    });
  }
});
