// The synthesized YAML on a real API server: everything applies server-side, and the CRD's schema
// and CEL rules reject invalid profiles at admission with messages naming the rule.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { applyYaml, createNamespace, kubectl } from './harness.ts';
import { INSTALL_FILES } from './install.ts';

const EXAMPLES = join(import.meta.dirname, '..', 'manifests', 'dist', 'examples.k8s.yaml');

describe('synthesized manifests on the API server', () => {
  // The runner applied the install and the examples with `kubectl apply`, as a user does.
  it('apply server-side as well (dry run: GitOps tools apply server-side), and the examples\' profiles exist', async () => {
    const dryRun = await kubectl(['apply', '--server-side', '--dry-run=server', '--force-conflicts', ...[...INSTALL_FILES, EXAMPLES].flatMap((f) => ['-f', f])]);
    assert.equal(dryRun.code, 0, dryRun.stderr);
    assert.match(dryRun.stdout, /deployment\.apps\/apiaccess-operator serverside-applied \(server dry run\)/);
    const profiles = await kubectl(['get', 'aap', '-n', 'apiaccess-examples', '-o', 'name']);
    assert.deepEqual(profiles.stdout.trim().split('\n').sort(), [
      'apiaccessprofile.apiaccess.dev/config-agent',
      'apiaccessprofile.apiaccess.dev/kip',
      'apiaccessprofile.apiaccess.dev/kip-network-agent',
      'apiaccessprofile.apiaccess.dev/pod-reader',
    ]);
  });

  it('defaults a minimal profile on the server as the schema says', async () => {
    const ns = await createNamespace('crd-defaults');
    await applyYaml([{ apiVersion: 'apiaccess.dev/v1alpha1', kind: 'ApiAccessProfile', metadata: { name: 'p', namespace: ns }, spec: { auth: 'Kubeconfig', kubeconfig: {} } }]);
    const spec = JSON.parse((await kubectl(['get', 'aap', 'p', '-n', ns, '-o', 'jsonpath={.spec}'])).stdout) as Record<string, unknown>;
    assert.deepEqual(spec, {
      auth: 'Kubeconfig',
      // Stamped at admission by the install's MutatingAdmissionPolicy: the static-token user admin.
      author: { username: 'admin', uid: 'admin', groups: ['system:masters', 'system:authenticated'], extra: {} },
      kubeconfig: { env: 'KUBECONFIG', key: 'kubeconfig', mountPath: '/etc/apiaccess', source: 'Generated' },
      permissions: { clusterRoles: [], rules: [], scope: 'Namespace' },
      serviceAccount: { create: true },
    });
  });

  const invalid: Array<[string, Record<string, unknown>, RegExp, string?]> = [
    ['ConfigMap source without name', { auth: 'Kubeconfig', kubeconfig: { source: 'ConfigMap' } }, /name is required when source is ConfigMap or Secret/],
    ['Secret source without name', { auth: 'Kubeconfig', kubeconfig: { source: 'Secret' } }, /name is required when source is ConfigMap or Secret/],
    ['http server', { auth: 'Kubeconfig', kubeconfig: { server: 'http://10.0.0.1:6443' } }, /server must be an https:\/\/ URL/],
    ['fileMode 512', { auth: 'Kubeconfig', kubeconfig: { fileMode: 512 } }, /fileMode must be between 0 and 511/],
    ['negative fileMode', { auth: 'Kubeconfig', kubeconfig: { fileMode: -1 } }, /fileMode must be between 0 and 511/],
    ['tokenExpirationSeconds 599', { auth: 'Kubeconfig', kubeconfig: { tokenExpirationSeconds: 599 } }, /tokenExpirationSeconds must be between 600 and 4294967296/],
    ['tokenExpirationSeconds 2^32+1', { auth: 'Kubeconfig', kubeconfig: { tokenExpirationSeconds: 4294967297 } }, /tokenExpirationSeconds must be between 600 and 4294967296/],
    ['server with a ConfigMap source', { auth: 'Kubeconfig', kubeconfig: { source: 'ConfigMap', name: 'x', server: 'https://a:1' } }, /apply only when source is Generated/],
    [
      'nonResourceURLs at Namespace scope',
      { auth: 'ServiceAccount', permissions: { rules: [{ nonResourceURLs: ['/healthz'], verbs: ['get'] }] } },
      /nonResourceURLs are only allowed when scope is Cluster/,
    ],
    ['a rule without resources', { auth: 'ServiceAccount', permissions: { rules: [{ verbs: ['get'] }] } }, /a rule needs resources or nonResourceURLs/],
    ['auth Proxy with a ConfigMap kubeconfig', { auth: 'Proxy', kubeconfig: { source: 'ConfigMap', name: 'x' } }, /spec\.kubeconfig\.source: Invalid value: .*auth Proxy mounts a generated kubeconfig pointing at the proxy/],
    ['proxy port 80', { auth: 'Proxy', proxy: { port: 80 } }, /spec\.proxy\.port: Invalid value: .*port must be between 1024 and 65535/],
    ['the proxy sidecar in containers', { auth: 'Proxy', containers: ['app', 'apiaccess-proxy'] }, /spec\.containers: Invalid value: .*apiaccess-proxy is the operator's proxy sidecar and cannot be selected/],
    ['auth Oidc', { auth: 'Oidc' }, /spec\.auth: Unsupported value: "Oidc"/],
    ['scope Global', { auth: 'ServiceAccount', permissions: { scope: 'Global' } }, /spec\.permissions\.scope: Unsupported value: "Global"/],
    ['source Vault', { auth: 'Kubeconfig', kubeconfig: { source: 'Vault' } }, /spec\.kubeconfig\.source: Unsupported value: "Vault"/],
    ['65 rules', { auth: 'ServiceAccount', permissions: { rules: Array.from({ length: 65 }, () => ({ resources: ['pods'], verbs: ['get'] })) } }, /spec\.permissions\.rules: Too many: 65: must have at most 64 items/],
    ['a name over 63 characters', { auth: 'ServiceAccount' }, /metadata\.name must be at most 63 characters/, 'p'.repeat(64)],
  ];
  for (const [what, spec, message, name] of invalid) {
    it(`rejects ${what} at admission, naming the rule`, async () => {
      const ns = await createNamespace('crd-invalid');
      const profile = { apiVersion: 'apiaccess.dev/v1alpha1', kind: 'ApiAccessProfile', metadata: { name: name ?? 'p', namespace: ns }, spec };
      const result = await kubectl(['apply', '--server-side', '-f', '-'], { input: JSON.stringify(profile) });
      assert.notEqual(result.code, 0, `accepted: ${result.stdout}`);
      assert.match(result.stderr, message);
    });
  }
});
