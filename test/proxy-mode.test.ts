// auth: Proxy in real Pods, with the operator running as its Deployment: the `apiaccess-proxy`
// native sidecar (the operator image) alone holds the token; unmodified curl and kubectl in the app
// container reach the API through it, get exactly the profile's rights (403 with a Status body from
// the proxy otherwise), watch and stream through it; a Job completes with it; a namespace enforcing
// the `restricted` Pod Security Standard admits it; switching away and unlabelling remove it all.
// Bad input (host network, a taken port, a taken mount path, no permissions) is reported, not applied.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeClient, KubeObject } from '../operator/kube/client.ts';
import { EXAMPLES_IMAGE } from '../manifests/examples.ts';
import { auditEventsSince, auditMark, POD_NAME } from './audit.ts';
import { applyYaml, createNamespace, kubectl, waitFor } from './harness.ts';
import { adminClient } from './operator-process.ts';
import { execInPod, readyPod } from './pods.ts';

const HASH = 'apiaccess.dev/config-hash';
const PROFILE = 'apiaccess.dev/profile';
const SIDECAR = 'apiaccess-proxy';
const UID = 65532;
/** Generous on a loaded 2-core machine; never a duration the product promises. */
const WITHIN_MS = 120_000;

type Obj = KubeObject & { spec?: any; status?: any; data?: Record<string, string> };
type Pod = Awaited<ReturnType<typeof readyPod>>;

let admin: KubeClient;
let ns = '';

const profilePath = (name: string): string => `/apis/apiaccess.dev/v1alpha1/namespaces/${ns}/apiaccessprofiles/${name}`;
const deploymentPath = (name: string): string => `/apis/apps/v1/namespaces/${ns}/deployments/${name}`;
const profile = (name: string, spec: object): object => ({ apiVersion: 'apiaccess.dev/v1alpha1', kind: 'ApiAccessProfile', metadata: { name, namespace: ns }, spec });
const rules = [
  { apiGroups: [''], resources: ['pods', 'pods/log', 'configmaps'], verbs: ['get', 'list', 'watch'] },
];

/** A container that passes the `restricted` Pod Security Standard. */
function restrictedContainer(name: string, command: string[], extra: object = {}): object {
  return {
    name,
    image: EXAMPLES_IMAGE,
    imagePullPolicy: 'IfNotPresent',
    command,
    env: [{ name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }, { name: 'HOME', value: '/tmp' }],
    resources: { requests: { cpu: '5m', memory: '16Mi' } },
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
    ...extra,
  };
}

function podSpec(containers: object[], extra: object = {}): object {
  return {
    securityContext: { runAsNonRoot: true, runAsUser: UID, runAsGroup: UID, seccompProfile: { type: 'RuntimeDefault' } },
    terminationGracePeriodSeconds: 1,
    containers,
    volumes: [{ name: 'tmp', emptyDir: {} }],
    ...extra,
  };
}

function deployment(name: string, labels: Record<string, string>, spec: object = podSpec([restrictedContainer('agent', ['sleep', 'infinity'])])): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels },
    spec: { replicas: 1, strategy: { type: 'Recreate' }, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec } },
  };
}

async function injected(name: string, previous?: string): Promise<{ deployment: Obj; hash: string }> {
  const d = await waitFor(
    async () => {
      const live = await admin.get<Obj>(deploymentPath(name));
      const hash = live?.spec.template.metadata?.annotations?.[HASH];
      return hash !== undefined && hash !== previous ? live : undefined;
    },
    { timeoutMs: WITHIN_MS, what: `Deployment ${name} to carry a new config hash` },
  );
  return { deployment: d, hash: d.spec.template.metadata.annotations[HASH] as string };
}

async function condition(name: string, type: string, status: string, reason?: string): Promise<Obj> {
  return await waitFor(
    async () => {
      const p = await admin.get<Obj>(profilePath(name));
      const c = p?.status?.conditions?.find((x: { type: string }) => x.type === type);
      return p?.status?.observedGeneration === p?.metadata.generation && c?.status === status && (reason === undefined || c.reason === reason) ? p : undefined;
    },
    { timeoutMs: WITHIN_MS, what: `${name} ${type}=${status}${reason ? ` (${reason})` : ''}` },
  );
}

async function warningOn(kind: string, name: string, reason: string): Promise<string> {
  const event = await waitFor(
    async () => {
      const list = await admin.request<{ items: Array<{ reason: string; message: string; involvedObject: { kind: string; name: string } }> }>('GET', `/api/v1/namespaces/${ns}/events`);
      return list.items.find((e) => e.reason === reason && e.involvedObject.kind === kind && e.involvedObject.name === name);
    },
    { timeoutMs: WITHIN_MS, what: `a ${reason} Event on ${kind} ${name}` },
  );
  return event.message;
}

describe('auth: Proxy in real Pods', { concurrency: false }, () => {
  let pod: Pod;
  let hash = '';

  before(async () => {
    admin = adminClient();
    ns = await createNamespace('proxy');
    // The sidecar the operator adds must pass the strictest built-in admission.
    await admin.request('PATCH', `/api/v1/namespaces/${ns}`, {
      body: { metadata: { labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } },
      contentType: 'application/merge-patch+json',
    });
  });
  after(() => admin?.close());

  it('injects the proxy as the first, restricted native sidecar; the app container holds no token, only a kubeconfig to 127.0.0.1', async () => {
    // An ordinary init container of the user's runs to completion before any sidecar starts and gets no access.
    const withSetup = podSpec([restrictedContainer('agent', ['sleep', 'infinity'])], { initContainers: [restrictedContainer('setup', ['true'])] });
    await applyYaml([profile('reader', { auth: 'Proxy', permissions: { rules } }), deployment('agent', { [PROFILE]: 'reader' }, withSetup)]);
    const { deployment: d, hash: current } = await injected('agent');
    hash = current;
    const spec = d.spec.template.spec;
    assert.deepEqual(spec.initContainers.map((c: { name: string }) => c.name), ['setup', SIDECAR]);
    assert.equal(spec.initContainers[1].restartPolicy, 'Always');
    assert.equal(spec.automountServiceAccountToken, false);
    pod = await readyPod(admin, ns, 'app=agent', hash, 'Deployment agent');
    const files = await execInPod(pod, 'ls /etc/apiaccess; ls /var/run/secrets/kubernetes.io/serviceaccount 2>&1; echo "$KUBERNETES_API_PROXY"', 'agent');
    assert.equal(files.code, 0, files.stderr);
    const [kubeconfigOnly, noTokenDir, proxy] = files.stdout.trim().split('\n');
    assert.equal(kubeconfigOnly, 'kubeconfig');
    assert.match(noTokenDir ?? '', /No such file or directory/);
    assert.equal(proxy, 'http://127.0.0.1:8001');
  });

  it('curl and kubectl get exactly the profile\'s rights through it: allowed reads pass, the rest is refused by the proxy with a Status body', async () => {
    const mark = await auditMark();
    const curl = await execInPod(pod, 'curl -s -o /dev/null -w "%{http_code}" "$KUBERNETES_API_PROXY/api/v1/namespaces/$NS/pods"; echo; curl -s "$KUBERNETES_API_PROXY/api/v1/namespaces/$NS/secrets"', 'agent');
    assert.equal(curl.code, 0, curl.stderr);
    const [code, refusal] = curl.stdout.split('\n');
    assert.equal(code, '200');
    const status = JSON.parse(refusal ?? '{}') as { kind: string; code: number; reason: string; message: string };
    assert.deepEqual([status.kind, status.code, status.reason], ['Status', 403, 'Forbidden']);
    assert.match(status.message, new RegExp(`ApiAccessProfile ${ns}/reader`));
    const kube = await execInPod(pod, 'kubectl get pods -o name && kubectl get secrets', 'agent');
    assert.notEqual(kube.code, 0);
    assert.match(kube.stdout, new RegExp(`pod/${pod.metadata.name}`));
    assert.match(kube.stderr, /Forbidden/);
    // The API server saw the Pod-bound token of the profile's ServiceAccount, and never the refused request.
    const seen = await waitFor(
      async () => {
        const events = await auditEventsSince(mark, (e) => e.user.extra?.[POD_NAME]?.[0] === pod.metadata.name);
        return events.some((e) => e.objectRef?.resource === 'pods') ? events : undefined;
      },
      { timeoutMs: 60_000, what: 'audited requests of the proxy' },
    );
    assert.ok(seen.every((e) => e.user.username === `system:serviceaccount:${ns}:reader`));
    assert.equal(seen.filter((e) => e.objectRef?.resource === 'secrets').length, 0, 'the proxy refused secrets itself');
  });

  it('streams watches and logs through the proxy', async () => {
    const watch = execInPod(pod, 'curl -sN --max-time 20 "$KUBERNETES_API_PROXY/api/v1/namespaces/$NS/configmaps?watch=1&timeoutSeconds=15&fieldSelector=metadata.name%3Dlate"', 'agent');
    await sleep(4_000);
    await applyYaml([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late', namespace: ns }, data: { a: 'b' } }]);
    const watched = await watch;
    assert.match(watched.stdout, /"type":"ADDED".*"name":"late"/);
    const logs = await execInPod(pod, `kubectl logs ${pod.metadata.name} -c ${SIDECAR} --tail=5`, 'agent');
    assert.equal(logs.code, 0, logs.stderr);
  });

  it('a Job made from a Proxy-mode CronJob completes: its sidecar does not keep it running', async () => {
    await applyYaml([
      {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: { name: 'report', namespace: ns, labels: { [PROFILE]: 'reader' } },
        spec: {
          schedule: '0 0 1 1 *',
          suspend: true,
          jobTemplate: {
            spec: {
              backoffLimit: 0,
              template: { spec: { ...(podSpec([restrictedContainer('report', ['kubectl', 'get', 'pods', '-o', 'name'])]) as object), restartPolicy: 'Never' } },
            },
          },
        },
      },
    ]);
    await waitFor(async () => ((await admin.get<Obj>(`/apis/batch/v1/namespaces/${ns}/cronjobs/report`))?.spec.jobTemplate.spec.template.spec.initContainers?.[0]?.name === SIDECAR ? true : undefined), {
      timeoutMs: WITHIN_MS,
      what: 'CronJob report to be injected',
    });
    const made = await kubectl(['create', 'job', '-n', ns, '--from=cronjob/report', 'report-now']);
    assert.equal(made.code, 0, made.stderr);
    const job = await waitFor(
      async () => {
        const j = await admin.get<Obj>(`/apis/batch/v1/namespaces/${ns}/jobs/report-now`);
        return j?.status?.conditions?.find((c: { type: string; status: string }) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') ? j : undefined;
      },
      { timeoutMs: 3 * WITHIN_MS, what: 'Job report-now to finish' },
    );
    assert.equal(job.status.succeeded, 1, JSON.stringify(job.status));
  });

  it('refuses what it cannot do safely, before writing anything: host network, a taken port, a taken mount path', async () => {
    const cases: Array<[string, object, string]> = [
      ['hostnet', podSpec([restrictedContainer('agent', ['sleep', 'infinity'])], { hostNetwork: true }), 'HostNetwork'],
      ['porty', podSpec([restrictedContainer('agent', ['sleep', 'infinity'], { ports: [{ containerPort: 8001 }] })]), 'ProxyPortConflict'],
      [
        'mounty',
        podSpec([restrictedContainer('agent', ['sleep', 'infinity'], { volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, { name: 'own', mountPath: '/etc/apiaccess' }] })], {
          volumes: [{ name: 'tmp', emptyDir: {} }, { name: 'own', emptyDir: {} }],
        }),
        'MountPathConflict',
      ],
    ];
    for (const [name, spec, reason] of cases) {
      // Created unlabelled in a namespace without the restricted label would be simpler, but these never get Pods admitted here anyway: only the template matters.
      await applyYaml([deployment(name, { [PROFILE]: 'reader' }, spec)]);
      const message = await warningOn('Deployment', name, reason);
      assert.match(message, /^Not injected: /);
      const live = await admin.get<Obj>(deploymentPath(name));
      assert.equal(live?.spec.template.metadata?.annotations?.[HASH], undefined, `${name}: nothing was injected`);
      assert.equal(live?.spec.template.spec.initContainers, undefined, `${name}: no sidecar`);
    }
    const p = await waitFor(
      async () => {
        const live = await admin.get<Obj>(profilePath('reader'));
        const w = live?.status?.workloads;
        return w !== undefined && w.unsupported >= 1 && w.conflicted >= 2 ? live : undefined;
      },
      { timeoutMs: WITHIN_MS, what: 'the profile to count the refused workloads' },
    );
    const bound = p.status.conditions.find((c: { type: string }) => c.type === 'WorkloadsBound');
    assert.equal(bound.status, 'False');
    for (const name of ['hostnet', 'porty', 'mounty']) await admin.delete(deploymentPath(name));
  });

  it('a Proxy profile with no permissions says in status that its proxy refuses everything', async () => {
    await applyYaml([profile('nothing', { auth: 'Proxy' })]);
    const p = await condition('nothing', 'AccessVerified', 'False', 'ProxyAllowsNothing');
    const ready = p.status.conditions.find((c: { type: string }) => c.type === 'Ready');
    assert.equal(ready.status, 'False');
  });

  it('switching away from Proxy removes the sidecar and its volumes; unlabelling removes every injected field', async () => {
    await applyYaml([profile('reader', { auth: 'ServiceAccount', permissions: { rules } })]);
    const { deployment: d, hash: switched } = await injected('agent', hash);
    const spec = d.spec.template.spec;
    assert.deepEqual(spec.initContainers.map((c: { name: string }) => c.name), ['setup'], 'only the user\'s init container is left');
    assert.equal((spec.volumes ?? []).some((v: { name: string }) => v.name.startsWith('apiaccess-')), false);
    assert.equal(spec.automountServiceAccountToken, true);
    const sa = await readyPod(admin, ns, 'app=agent', switched, 'Deployment agent');
    const list = await execInPod(sa, 'kubectl get pods -o name', 'agent');
    assert.equal(list.code, 0, list.stderr);

    await admin.request('PATCH', deploymentPath('agent'), { body: { metadata: { labels: { [PROFILE]: null } } }, contentType: 'application/merge-patch+json' });
    const bare = await waitFor(
      async () => {
        const live = await admin.get<Obj>(deploymentPath('agent'));
        return live?.spec.template.metadata?.annotations?.[HASH] === undefined ? live : undefined;
      },
      { timeoutMs: WITHIN_MS, what: 'the injection to be removed' },
    );
    assert.equal(bare.spec.template.spec.serviceAccountName, undefined);
    assert.equal(bare.metadata.labels?.['apiaccess.dev/injected'], undefined);
  });
});
