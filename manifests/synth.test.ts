import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { isDeepStrictEqual } from 'node:util';
import { EXAMPLES_IMAGE } from './examples.ts';
import { buildApp } from './main.ts';

const committed = join(import.meta.dirname, 'dist');
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function synthTo(): Map<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'apiaccess-synth-'));
  dirs.push(dir);
  buildApp(dir).synth();
  return new Map(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

type Obj = { kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };
const objects = (file: string): Obj[] =>
  parseAllDocuments(readFileSync(join(committed, file), 'utf8')).map((d) => d.toJS() as Obj);

describe('synthesized manifests', () => {
  it('are deterministic and committed exactly as a fresh synth writes them', () => {
    const first = synthTo();
    const second = synthTo();
    assert.deepEqual([...first.keys()].sort(), ['examples.k8s.yaml', 'operator.k8s.yaml']);
    assert.deepEqual(second, first, 'two synths differ');
    for (const [file, text] of first) {
      assert.equal(readFileSync(join(committed, file), 'utf8'), text, `manifests/dist/${file} is stale: run \`npm run synth\` and commit`);
    }
  });

  it('examples: the seed-000 agent mounts kip-config with the seed\'s item shape and KUBECONFIG', () => {
    const all = objects('examples.k8s.yaml');
    const cm = all.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'kip-config') as { data: { kubeconfig: string } } | undefined;
    assert.match(cm?.data.kubeconfig ?? '', /kind: Config/);
    const agent = all.find((o) => o.kind === 'Deployment' && o.metadata.name === 'kip-network-agent') as any;
    const spec = agent.spec.template.spec;
    assert.deepEqual(
      spec.volumes.find((v: { name: string }) => v.name === 'apiaccess-kip-network-agent'),
      { name: 'apiaccess-kip-network-agent', configMap: { name: 'kip-config', defaultMode: 420, items: [{ key: 'kubeconfig', path: 'kubeconfig', mode: 384 }] } },
    );
    assert.ok(spec.containers[0].volumeMounts.some((m: object) => isDeepStrictEqual(m, { name: 'apiaccess-kip-network-agent', mountPath: '/etc/kip', readOnly: true })));
    assert.ok(spec.containers[0].env.some((e: object) => isDeepStrictEqual(e, { name: 'KUBECONFIG', value: '/etc/kip/kubeconfig' })));
    assert.equal(spec.securityContext.fsGroup, spec.containers[0].securityContext.runAsUser, 'the non-root agent reads the 0600 file through fsGroup');
  });

  it('examples: the generated-kubeconfig agent has a projected token + kube-root-ca.crt volume and a credential-free kubeconfig', () => {
    const all = objects('examples.k8s.yaml');
    const agent = all.find((o) => o.kind === 'Deployment' && o.metadata.name === 'config-agent') as any;
    const sources = agent.spec.template.spec.volumes.find((v: { projected?: unknown }) => v.projected !== undefined).projected.sources;
    assert.ok(sources.some((s: { serviceAccountToken?: unknown }) => s.serviceAccountToken !== undefined));
    assert.ok(sources.some((s: { configMap?: { name: string } }) => s.configMap?.name === 'kube-root-ca.crt'));
    const cm = all.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'apiaccess-config-agent-kubeconfig') as { data: { kubeconfig: string } } | undefined;
    assert.match(cm?.data.kubeconfig ?? '', /tokenFile: \/etc\/apiaccess\/token/);
    assert.doesNotMatch(cm?.data.kubeconfig ?? '', /token:|-data:/);
  });

  it('examples: the ServiceAccount-mode reader curls the API as in the Kubernetes docs', () => {
    const reader = objects('examples.k8s.yaml').find((o) => o.kind === 'Deployment' && o.metadata.name === 'pod-reader') as any;
    const spec = reader.spec.template.spec;
    assert.equal(spec.automountServiceAccountToken, true);
    assert.match(spec.containers[0].command.join(' '), /curl --cacert \$\{CACERT\} --header "Authorization: Bearer \$\{TOKEN\}" -X GET \$\{APISERVER\}/);
  });

  it('examples: every workload runs one small replica of the locally built clients image, never pulled', () => {
    const deployments = objects('examples.k8s.yaml').filter((o) => o.kind === 'Deployment') as any[];
    assert.equal(deployments.length, 4);
    for (const d of deployments) {
      const name = d.metadata.name as string;
      assert.equal(d.spec.replicas, 1, name);
      for (const c of d.spec.template.spec.containers) {
        assert.equal(c.image, EXAMPLES_IMAGE, name);
        assert.equal(c.imagePullPolicy, 'IfNotPresent', name);
        assert.match(c.resources.requests.cpu, /^\d+m$/, name);
        assert.ok(Number.parseInt(c.resources.requests.cpu, 10) <= 50, `${name} requests ${c.resources.requests.cpu}`);
        assert.equal(c.securityContext.runAsNonRoot, true, name);
      }
    }
  });

  it('operator: runs as its ServiceAccount, bound to a ClusterRole without wildcards that covers profiles and their status', () => {
    const all = objects('operator.k8s.yaml');
    const deploy = all.find((o) => o.kind === 'Deployment') as any;
    const pod = deploy.spec.template.spec;
    assert.equal(pod.serviceAccountName, 'apiaccess-operator');
    assert.equal(pod.automountServiceAccountToken, true);
    assert.deepEqual(pod.containers[0].args.slice(0, 2), ['run', '--leader-elect']);
    assert.equal(pod.containers[0].securityContext.readOnlyRootFilesystem, true);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.ok(pod.containers[0].livenessProbe && pod.containers[0].readinessProbe);

    const binding = all.find((o) => o.kind === 'ClusterRoleBinding') as unknown as { roleRef: { name: string }; subjects: unknown[] };
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'apiaccess-operator', namespace: 'apiaccess-system' }]);
    const role = all.find((o) => o.kind === 'ClusterRole' && o.metadata.name === binding.roleRef.name) as unknown as {
      rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
    };
    const grants = (resource: string, verb: string): boolean => role.rules.some((r) => r.resources.includes(resource) && r.verbs.includes(verb));
    for (const rule of role.rules) {
      assert.ok(![...rule.apiGroups, ...rule.resources, ...rule.verbs].includes('*'), `wildcard in ${JSON.stringify(rule)}`);
    }
    for (const verb of ['get', 'list', 'watch', 'update', 'patch']) assert.ok(grants('apiaccessprofiles', verb), verb);
    assert.ok(grants('apiaccessprofiles/status', 'patch'));
    assert.ok(grants('apiaccessprofiles/finalizers', 'update'));
    assert.ok(!role.rules.some((r) => r.resources.includes('secrets')), 'the operator never reads Secrets');
    assert.ok(!role.rules.some((r) => r.resources.includes('serviceaccounts/token')), 'the operator never mints tokens');
  });

  it('operator: ships the CRD with its full schema, not the empty one the L1 class would emit', () => {
    const crd = objects('operator.k8s.yaml').find((o) => o.kind === 'CustomResourceDefinition') as any;
    assert.equal(crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.auth.enum.length, 3);
  });
});
