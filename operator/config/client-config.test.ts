import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { ClientConfigError, resolveClientConfig, type ClientConfigEnvironment } from './client-config.ts';

const root = mkdtempSync(join(tmpdir(), 'apiaccess-config-'));
writeFileSync(join(root, 'ca.crt'), 'not read by these tests');
after(() => rmSync(root, { recursive: true, force: true }));

function kubeconfig(file: string, server: string, opts: { context?: string; user?: Record<string, unknown>; namespace?: string } = {}): string {
  const context = opts.context ?? 'ctx';
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: context, cluster: { server, 'certificate-authority': 'ca.crt' } }],
      users: [{ name: context, user: opts.user ?? { token: 'secret-token-value' } }],
      contexts: [{ name: context, context: { cluster: context, user: context, ...(opts.namespace ? { namespace: opts.namespace } : {}) } }],
      'current-context': context,
    }),
  );
  return file;
}

function environment(env: NodeJS.ProcessEnv = {}, name = 'home'): ClientConfigEnvironment {
  const home = join(root, name);
  mkdirSync(join(home, '.kube'), { recursive: true });
  const inClusterRoot = join(root, `${name}-sa`);
  mkdirSync(inClusterRoot, { recursive: true });
  return { env, home, inClusterRoot };
}

describe('client configuration precedence', () => {
  const a = kubeconfig(join(root, 'a.yaml'), 'https://a.example:6443', { namespace: 'team-a' });
  const b = kubeconfig(join(root, 'b.yaml'), 'https://b.example:6443');

  it('the --kubeconfig flag wins over KUBECONFIG, in-cluster and ~/.kube/config', () => {
    const env = environment({ KUBECONFIG: b, KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, 'flag');
    writeFileSync(join(env.inClusterRoot, 'token'), 't');
    const config = resolveClientConfig({ kubeconfig: a }, env);
    assert.equal(config.source, 'flag');
    assert.equal(config.server, 'https://a.example:6443');
    assert.equal(config.namespace, 'team-a');
  });

  it('KUBECONFIG merges its files and the first file wins on duplicate names, like kubectl', () => {
    const config = resolveClientConfig({}, environment({ KUBECONFIG: `${b}:${a}` }, 'list'));
    assert.equal(config.source, 'KUBECONFIG');
    assert.equal(config.server, 'https://b.example:6443');
    assert.match(config.reason, /2 files merged/);
  });

  it('resolves relative certificate paths against the kubeconfig\'s directory', () => {
    const config = resolveClientConfig({ kubeconfig: a }, environment({}, 'relative'));
    assert.equal((config.raw.clusters?.[0]?.cluster as { 'certificate-authority'?: string })['certificate-authority'], join(root, 'ca.crt'));
  });

  it('in-cluster comes before ~/.kube/config when the ServiceAccount token exists', () => {
    const env = environment({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, 'incluster');
    writeFileSync(join(env.inClusterRoot, 'token'), 't');
    writeFileSync(join(env.inClusterRoot, 'namespace'), 'kube-system');
    kubeconfig(join(env.home, '.kube', 'config'), 'https://home.example');
    const config = resolveClientConfig({}, env);
    assert.equal(config.source, 'in-cluster');
    assert.equal(config.server, 'https://10.96.0.1:443');
    assert.equal(config.namespace, 'kube-system');
  });

  it('falls back to ~/.kube/config when KUBERNETES_SERVICE_HOST is set but no token is mounted', () => {
    const env = environment({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, 'notoken');
    kubeconfig(join(env.home, '.kube', 'config'), 'https://home.example');
    assert.equal(resolveClientConfig({}, env).source, 'home');
  });

  it('fails clearly instead of guessing localhost:8080', () => {
    assert.throws(() => resolveClientConfig({}, environment({}, 'none')), (e: unknown) => {
      assert.ok(e instanceof ClientConfigError);
      assert.match(e.message, /No Kubernetes client configuration.*not in a pod.*\.kube\/config does not exist/);
      return true;
    });
  });

  it('--apiserver-host overrides the server; --insecure-skip-tls-verify warns', async () => {
    const config = resolveClientConfig({ kubeconfig: a, apiserverHost: 'https://override:443', insecureSkipTlsVerify: true }, environment({}, 'override'));
    assert.equal(config.server, 'https://override:443');
    const opts: { rejectUnauthorized?: boolean } = {};
    await config.credentials.applyToHTTPSOptions(opts);
    assert.equal(opts.rejectUnauthorized, false);
    assert.match(config.warnings.join(), /TLS verification of https:\/\/override:443 is OFF/);
  });

  it('never puts the credential in the reason or warnings it logs', () => {
    const config = resolveClientConfig({ kubeconfig: a, insecureSkipTlsVerify: true }, environment({}, 'secret'));
    assert.doesNotMatch(JSON.stringify([config.reason, config.warnings, config.files]), /secret-token-value/);
  });

  it('reads client-go\'s tokenFile for requests', async () => {
    const token = join(root, 'token');
    writeFileSync(token, 'first');
    const file = kubeconfig(join(root, 'tf.yaml'), 'https://tf.example', { user: { tokenFile: token } });
    const config = resolveClientConfig({ kubeconfig: file }, environment({}, 'tokenfile'));
    const opts: { headers: Record<string, string> } = { headers: {} };
    await config.credentials.applyToHTTPSOptions(opts);
    assert.equal(opts.headers.Authorization, 'Bearer first');
  });

  it('names the file of a malformed kubeconfig', () => {
    const bad = join(root, 'bad.yaml');
    writeFileSync(bad, 'clusters: {');
    assert.throws(() => resolveClientConfig({ kubeconfig: bad }, environment({}, 'bad')), new RegExp(`${bad}: not valid YAML`));
  });
});
