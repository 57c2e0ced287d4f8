import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { App, Chart, Testing } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { stringify } from 'yaml';
import type { ApiAccessProfileSpecInput } from '../crds/apiaccessprofile.ts';
import { ApiAccess } from './api-access.ts';

type Obj = { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; data?: Record<string, string>; [k: string]: unknown };

function chart(): Chart {
  return new Chart(Testing.app(), 'test', { namespace: 'team-a', disableResourceNameHashes: true });
}
function deployment(scope: Chart, containers = ['app']): kplus.Deployment {
  return new kplus.Deployment(scope, 'agent', {
    metadata: { name: 'agent' },
    containers: containers.map((name) => ({ name, image: 'example/agent:1' })),
  });
}
const find = (objects: Obj[], kind: string, name?: string): Obj => {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.ok(found, `no ${kind} ${name ?? ''}`);
  return found;
};
const podSpec = (o: Obj): any => (o as any).spec.template.spec;

describe('ApiAccess construct', () => {
  it('GIVEN a Deployment and a generated-kubeconfig profile WHEN synthesized THEN the workload is labelled and carries exactly the injection', () => {
    const c = chart();
    new ApiAccess(c, 'access', { workload: deployment(c), spec: { auth: 'Kubeconfig', permissions: { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] } } });
    const objects = Testing.synth(c) as Obj[];
    const deploy = find(objects, 'Deployment');
    assert.equal(deploy.metadata.labels?.['apiaccess.dev/profile'], 'agent');
    assert.equal(deploy.metadata.labels?.['apiaccess.dev/injected'], 'agent');
    const spec = podSpec(deploy);
    assert.equal(spec.serviceAccountName, 'agent');
    assert.equal(spec.automountServiceAccountToken, false);
    assert.deepEqual(spec.containers[0].env, [{ name: 'KUBECONFIG', value: '/etc/apiaccess/kubeconfig' }]);
    assert.deepEqual(spec.containers[0].volumeMounts, [{ name: 'apiaccess-agent', mountPath: '/etc/apiaccess', readOnly: true }]);
    assert.equal(spec.volumes[0].projected.sources[1].serviceAccountToken.path, 'token');
    assert.deepEqual(
      objects.map((o) => `${o.kind}/${o.metadata.name}`),
      ['Deployment/agent', 'ServiceAccount/agent', 'Role/apiaccess:agent', 'RoleBinding/apiaccess:agent', 'ConfigMap/apiaccess-agent-kubeconfig', 'ApiAccessProfile/agent'],
    );
  });

  it('appends to env, mounts and volumes the workload already has instead of replacing them', () => {
    const c = chart();
    const d = deployment(c);
    const app = d.containers[0];
    assert.ok(app);
    app.env.addVariable('LOG_LEVEL', kplus.EnvValue.fromValue('debug'));
    const scratch = kplus.Volume.fromEmptyDir(c, 'scratch', 'scratch');
    app.mount('/scratch', scratch);
    new ApiAccess(c, 'access', { workload: d, spec: { auth: 'Kubeconfig', kubeconfig: { source: 'ConfigMap', name: 'kip-config', mountPath: '/etc/kip' } } });
    const spec = podSpec(find(Testing.synth(c) as Obj[], 'Deployment'));
    assert.deepEqual(spec.containers[0].env.map((e: { name: string }) => e.name), ['LOG_LEVEL', 'KUBECONFIG']);
    assert.deepEqual(spec.containers[0].volumeMounts.map((m: { mountPath: string }) => m.mountPath), ['/scratch', '/etc/kip']);
    assert.deepEqual(spec.volumes.map((v: { name: string }) => v.name), ['scratch', 'apiaccess-agent']);
  });

  it('injects only the containers the profile names', () => {
    const c = chart();
    new ApiAccess(c, 'access', { workload: deployment(c, ['app', 'proxy']), spec: { auth: 'Kubeconfig', containers: ['proxy'] } });
    const spec = podSpec(find(Testing.synth(c) as Obj[], 'Deployment'));
    assert.equal(spec.containers[0].env, undefined);
    assert.equal(spec.containers[1].env[0].name, 'KUBECONFIG');
  });

  it('GIVEN a Deployment with a native sidecar and an ordinary init container WHEN synthesized THEN the sidecar gets the env and mount as the app does, the init container nothing', () => {
    const c = chart();
    const d = deployment(c);
    d.addInitContainer({ name: 'migrate', image: 'example/migrate:1' });
    d.addInitContainer({ name: 'log-shipper', image: 'example/shipper:1', restartPolicy: kplus.ContainerRestartPolicy.ALWAYS, envVariables: { LEVEL: kplus.EnvValue.fromValue('info') } });
    new ApiAccess(c, 'access', { workload: d, spec: { auth: 'Kubeconfig' } });
    const spec = podSpec(find(Testing.synth(c) as Obj[], 'Deployment'));
    const env = { name: 'KUBECONFIG', value: '/etc/apiaccess/kubeconfig' };
    const mount = { name: 'apiaccess-agent', mountPath: '/etc/apiaccess', readOnly: true };
    assert.deepEqual(spec.containers[0].env, [env]);
    assert.deepEqual(
      spec.initContainers.map((i: { name: string; env?: unknown; volumeMounts?: unknown }) => [i.name, i.env, i.volumeMounts]),
      [
        ['migrate', undefined, undefined],
        ['log-shipper', [{ name: 'LEVEL', value: 'info' }, env], [mount]],
      ],
    );
  });

  it('GIVEN spec.containers names the native sidecar WHEN synthesized THEN only the sidecar is injected', () => {
    const c = chart();
    const d = deployment(c);
    d.addInitContainer({ name: 'log-shipper', image: 'example/shipper:1', restartPolicy: kplus.ContainerRestartPolicy.ALWAYS });
    new ApiAccess(c, 'access', { workload: d, spec: { auth: 'Kubeconfig', containers: ['log-shipper'] } });
    const spec = podSpec(find(Testing.synth(c) as Obj[], 'Deployment'));
    assert.equal(spec.containers[0].env, undefined);
    assert.deepEqual(spec.initContainers[0].env, [{ name: 'KUBECONFIG', value: '/etc/apiaccess/kubeconfig' }]);
  });

  it('binds a CronJob through its job template', () => {
    const c = chart();
    const job = new kplus.CronJob(c, 'report', {
      metadata: { name: 'report' },
      schedule: { expressionString: '0 * * * *' } as never,
      containers: [{ name: 'report', image: 'example/report:1' }],
    });
    new ApiAccess(c, 'access', { workload: job, spec: { auth: 'ServiceAccount' } });
    const cron = find(Testing.synth(c) as Obj[], 'CronJob') as any;
    assert.equal(cron.spec.jobTemplate.spec.template.spec.serviceAccountName, 'report');
    assert.equal(cron.spec.jobTemplate.spec.template.spec.automountServiceAccountToken, true);
    assert.match(cron.spec.jobTemplate.spec.template.metadata.annotations['apiaccess.dev/config-hash'], /^[0-9a-f]{16}$/);
  });

  it('renders cluster-scoped RBAC without the chart\'s namespace', () => {
    const c = chart();
    new ApiAccess(c, 'access', {
      workload: deployment(c),
      spec: { auth: 'ServiceAccount', permissions: { scope: 'Cluster', rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['list'] }] } },
    });
    const objects = Testing.synth(c) as Obj[];
    assert.equal(find(objects, 'ClusterRole').metadata.namespace, undefined);
    assert.equal(find(objects, 'ClusterRoleBinding').metadata.namespace, undefined);
    assert.equal(find(objects, 'ServiceAccount').metadata.namespace, 'team-a');
  });

  const invalid: Array<[string, (c: Chart) => void, RegExp]> = [
    ['an invalid spec, naming the field and value', (c) => new ApiAccess(c, 'a', { workload: deployment(c), spec: { auth: 'Kubeconfig', kubeconfig: { fileMode: 1000 } } }), /spec\.kubeconfig\.fileMode.*1000/],
    ['an unknown auth mode', (c) => new ApiAccess(c, 'a', { workload: deployment(c), spec: { auth: 'Sidecar' as never } }), /spec\.auth.*"Sidecar"/],
    ['a container the workload lacks', (c) => new ApiAccess(c, 'a', { workload: deployment(c), spec: { auth: 'Kubeconfig', containers: ['ghost'] } }), /spec\.containers names "ghost", but the workload has "app"/],
    [
      'an ordinary init container, which is not selectable',
      (c) => {
        const d = deployment(c);
        d.addInitContainer({ name: 'migrate', image: 'example/migrate:1' });
        d.addInitContainer({ name: 'log-shipper', image: 'example/shipper:1', restartPolicy: kplus.ContainerRestartPolicy.ALWAYS });
        new ApiAccess(c, 'a', { workload: d, spec: { auth: 'Kubeconfig', containers: ['migrate'] } });
      },
      /spec\.containers names "migrate", but the workload has "app", "log-shipper \(native sidecar\)"/,
    ],
    ['a Job', (c) => new ApiAccess(c, 'a', { workload: new kplus.Job(c, 'j', { containers: [{ image: 'x' }] }) as never, spec: { auth: 'ServiceAccount' } }), /kind "Job" cannot be bound/],
    ['a profile name over 63 characters', (c) => new ApiAccess(c, 'a', { workload: deployment(c), name: 'x'.repeat(64), spec: { auth: 'ServiceAccount' } }), /name must be .* at most 63 characters, got "x{64}"/],
    [
      'a workload that already runs as another ServiceAccount',
      (c) => {
        const d = new kplus.Deployment(c, 'd', { containers: [{ image: 'x' }], serviceAccount: kplus.ServiceAccount.fromServiceAccountName(c, 'sa', 'legacy') });
        new ApiAccess(c, 'a', { workload: d, name: 'agent', spec: { auth: 'ServiceAccount' } });
      },
      /already runs as ServiceAccount "legacy", but the profile uses "agent"/,
    ],
  ];
  for (const [what, build, message] of invalid) {
    it(`throws in the constructor on ${what}`, () => assert.throws(() => build(chart()), message));
  }

  it('fails synth when the workload gains env after ApiAccess was created', () => {
    const c = chart();
    const d = deployment(c);
    new ApiAccess(c, 'access', { workload: d, spec: { auth: 'Kubeconfig' } });
    d.containers[0]?.env.addVariable('LATE', kplus.EnvValue.fromValue('1'));
    assert.throws(() => Testing.synth(c), /changed after ApiAccess was created/);
  });

  it('fails synth when the workload gains a native sidecar after ApiAccess was created', () => {
    const c = chart();
    const d = deployment(c);
    new ApiAccess(c, 'access', { workload: d, spec: { auth: 'Kubeconfig' } });
    d.addInitContainer({ name: 'late', image: 'example/late:1', restartPolicy: kplus.ContainerRestartPolicy.ALWAYS });
    assert.throws(() => Testing.synth(c), /changed after ApiAccess was created/);
  });

  it('Proxy mode: renders the rules ConfigMap and puts the proxy sidecar before the workload\'s own init containers', () => {
    const c = chart();
    const d = deployment(c);
    d.addInitContainer({ name: 'migrate', image: 'example/migrate:1' });
    new ApiAccess(c, 'a', { workload: d, spec: { auth: 'Proxy', permissions: { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] } }, proxyImage: 'example/apiaccess:v1' });
    const out = Testing.synth(c) as Obj[];
    const rules = out.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'apiaccess-agent-proxy');
    assert.deepEqual(JSON.parse(rules?.data?.['rules.json'] ?? '{}').rules, [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }]);
    const spec = (out.find((o) => o.kind === 'Deployment') as any).spec.template.spec;
    assert.deepEqual(spec.initContainers.map((i: { name: string }) => i.name), ['apiaccess-proxy', 'migrate']);
    assert.equal(spec.initContainers[0].image, 'example/apiaccess:v1');
    assert.deepEqual(spec.initContainers[0].resources, { requests: { cpu: '10m', memory: '48Mi' }, limits: { cpu: '500m', memory: '128Mi' } });
    assert.deepEqual(spec.containers[0].env.map((e: { name: string }) => e.name), ['KUBECONFIG', 'KUBERNETES_API_PROXY']);
  });

  it('Proxy mode: refuses what it cannot render or run (ClusterRole references, host network, a taken port)', () => {
    const fails = (make: (c: Chart) => kplus.Deployment, spec: ApiAccessProfileSpecInput, pattern: RegExp): void => {
      const c = chart();
      assert.throws(() => new ApiAccess(c, 'a', { workload: make(c), spec }), pattern);
    };
    fails((c) => deployment(c), { auth: 'Proxy', permissions: { clusterRoles: ['view'] } }, /a ClusterRole's rules are only known in the cluster/);
    fails((c) => new kplus.Deployment(c, 'd', { metadata: { name: 'agent' }, hostNetwork: true, containers: [{ name: 'app', image: 'x' }] }), { auth: 'Proxy' }, /hostNetwork: true/);
    fails((c) => new kplus.Deployment(c, 'd', { metadata: { name: 'agent' }, containers: [{ name: 'app', image: 'x', ports: [{ number: 8001 }] }] }), { auth: 'Proxy' }, /containerPort 8001/);
  });

  it('matches the golden chart of every mode (UPDATE_GOLDEN=1 rewrites it)', () => {
    const app = new App({ outdir: '/tmp/unused' });
    const c = new Chart(app, 'golden', { disableResourceNameHashes: true });
    const modes: Array<[string, ApiAccessProfileSpecInput]> = [
      ['sa', { auth: 'ServiceAccount', permissions: { clusterRoles: ['view'] } }],
      ['generated', { auth: 'Kubeconfig', kubeconfig: { server: 'https://10.20.30.40:6443', tokenExpirationSeconds: 7200 } }],
      ['configmap', { auth: 'Kubeconfig', kubeconfig: { source: 'ConfigMap', name: 'kip-config', mountPath: '/etc/kip' } }],
      ['secret', { auth: 'Kubeconfig', kubeconfig: { source: 'Secret', name: 'agent-kubeconfig', env: 'AGENT_KUBECONFIG' }, permissions: { scope: 'Cluster', rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }] } }],
      ['proxy', { auth: 'Proxy', proxy: { port: 8101 }, permissions: { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }] } }],
    ];
    for (const [name, spec] of modes) {
      const d = new kplus.Deployment(c, name, { metadata: { name, namespace: 'golden' }, containers: [{ name: 'app', image: 'example/app:1' }] });
      new ApiAccess(c, `${name}-access`, { workload: d, spec, proxyImage: 'example/apiaccess:v1' });
    }
    const actual = (c.toJson() as Obj[]).map((o) => stringify(o)).join('---\n');
    const file = join(import.meta.dirname, 'testdata', 'api-access.golden.yaml');
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, actual);
    assert.equal(actual, readFileSync(file, 'utf8'), 'golden differs: inspect, then UPDATE_GOLDEN=1 npx tsx --test manifests/api-access.test.ts');
  });
});
