import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { apiAccessProfileCrd, CRD_FILE } from './crd.ts';
import { crdYaml } from './generate.ts';
import { structuralViolations, type JSONSchemaProps } from './structural-schema.ts';

const version = (apiAccessProfileCrd().spec.versions as JSONSchemaProps[])[0] as JSONSchemaProps;
const schema = (version.schema as { openAPIV3Schema: JSONSchemaProps }).openAPIV3Schema;
const at = (path: string[]): JSONSchemaProps =>
  path.reduce<JSONSchemaProps>((node, key) => (node.properties as Record<string, JSONSchemaProps>)[key] as JSONSchemaProps, schema);
const rules = (node: JSONSchemaProps): string[] => ((node['x-kubernetes-validations'] ?? []) as Array<{ message: string }>).map((r) => r.message);

describe('ApiAccessProfile CRD', () => {
  it('is v1alpha1, served and stored, namespaced, with the short name aap and a status subresource', () => {
    const crd = apiAccessProfileCrd();
    assert.equal(crd.metadata.name, 'apiaccessprofiles.apiaccess.dev');
    assert.equal(crd.spec.scope, 'Namespaced');
    assert.deepEqual((crd.spec.names as { shortNames: string[] }).shortNames, ['aap']);
    assert.equal(version.name, 'v1alpha1');
    assert.equal(version.served, true);
    assert.equal(version.storage, true);
    assert.deepEqual(version.subresources, { status: {} });
  });

  it('has a structural schema', () => {
    assert.deepEqual(structuralViolations(schema), []);
  });

  it('has the printer columns Auth, ServiceAccount, Bound, Ready, Age', () => {
    const columns = version.additionalPrinterColumns as Array<{ name: string; jsonPath: string }>;
    assert.deepEqual(
      columns.map((c) => [c.name, c.jsonPath]),
      [
        ['Auth', '.spec.auth'],
        ['ServiceAccount', '.status.serviceAccountName'],
        ['Bound', '.status.workloads.bound'],
        ['Ready', '.status.conditions[?(@.type=="Ready")].status'],
        ['Age', '.metadata.creationTimestamp'],
      ],
    );
  });

  it('carries the CEL rules of api.md', () => {
    assert.deepEqual(rules(at(['spec', 'kubeconfig'])), [
      'name is required when source is ConfigMap or Secret',
      'server, tokenExpirationSeconds and audience apply only when source is Generated',
    ]);
    assert.deepEqual(rules(at(['spec', 'kubeconfig', 'server'])), ['server must be an https:// URL']);
    assert.deepEqual(rules(at(['spec', 'kubeconfig', 'fileMode'])), ['fileMode must be between 0 and 511 (0777)']);
    assert.deepEqual(rules(at(['spec', 'kubeconfig', 'tokenExpirationSeconds'])), ['tokenExpirationSeconds must be between 600 and 4294967296']);
    assert.deepEqual(rules(at(['spec', 'permissions'])), ['nonResourceURLs are only allowed when scope is Cluster']);
    assert.equal(at(['spec', 'permissions', 'rules']).maxItems, 64);
    assert.equal(at(['spec', 'permissions', 'clusterRoles']).maxItems, 32);
    assert.equal(at(['spec', 'containers']).maxItems, 32);
  });

  it('enumerates auth, scope and source with their defaults', () => {
    assert.deepEqual(at(['spec', 'auth']).enum, ['ServiceAccount', 'Kubeconfig', 'Proxy']);
    assert.equal(at(['spec', 'proxy', 'port']).default, 8001);
    assert.deepEqual(schema.required, ['spec']);
    assert.deepEqual(at(['spec']).required, ['auth']);
    assert.equal(at(['spec', 'permissions', 'scope']).default, 'Namespace');
    assert.equal(at(['spec', 'kubeconfig', 'source']).default, 'Generated');
    assert.equal(at(['spec', 'kubeconfig', 'mountPath']).default, '/etc/apiaccess');
    assert.equal(at(['spec', 'serviceAccount', 'create']).default, true);
  });

  it('keys status conditions by type, as metav1.Condition lists are', () => {
    const conditions = at(['status', 'conditions']);
    assert.equal(conditions['x-kubernetes-list-type'], 'map');
    assert.deepEqual(conditions['x-kubernetes-list-map-keys'], ['type']);
  });

  it('imports offline with `cdk8s import` into a typed ApiAccessProfile construct', () => {
    const out = mkdtempSync(join(tmpdir(), 'apiaccess-import-'));
    try {
      const cli = join(import.meta.dirname, '..', 'node_modules', '.bin', 'cdk8s');
      execFileSync(cli, ['import', '--no-check-upgrade', '--language', 'typescript', '-o', out, `apiaccess:=${join(import.meta.dirname, CRD_FILE)}`], { stdio: 'pipe', cwd: out });
      const generated = readdirSync(out).map((f) => readFileSync(join(out, f), 'utf8')).join('\n');
      assert.match(generated, /export class ApiAccessProfile extends ApiObject/);
      assert.match(generated, /readonly tokenExpirationSeconds\?: number;/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('is committed exactly as `npm run synth` generates it', () => {
    assert.equal(readFileSync(join(import.meta.dirname, CRD_FILE), 'utf8'), crdYaml(), 'run `npm run synth` and commit crds/');
  });
});
