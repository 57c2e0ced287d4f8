// `apiaccess doctor` on the real cluster: green inside real Pods of the operator image in every mode
// (the ServiceAccount's in-cluster config, the generated kubeconfig, and Proxy mode through the real
// apiaccess-proxy sidecar), and each broken setup fails at the check that names the cause. Pods are
// built by hand with the exact shapes of api.md (Proxy mode's from the operator's own pure builders);
// the setups a Pod cannot have (a wrong CA, a forged token) run doctor from this machine, and
// `doctor --pod` runs it from this machine inside a Pod of an image without apiaccess.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { parseSpec } from '../crds/apiaccessprofile.ts';
import { EXAMPLES_IMAGE } from '../manifests/examples.ts';
import { desiredObjects } from '../operator/desired/owned-objects.ts';
import { podTemplateInjection } from '../operator/desired/pod-template.ts';
import { resolveProfile } from '../operator/desired/profile.ts';
import type { KubeClient } from '../operator/kube/client.ts';
import { runProgram, type ProcessResult } from './clients.ts';
import { applyYaml, createNamespace, kubeconfigPath, kubectl, testCluster, waitFor } from './harness.ts';
import { adminClient } from './operator-process.ts';
import { manifest } from './install.ts';
import { execInPod, readyPod } from './pods.ts';

const BIN = resolve(import.meta.dirname, '..', 'operator', 'bin', 'apiaccess.js');
const SA = 'doctor-sa';
const MOUNT = '/etc/apiaccess';
const TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

interface Check {
  name: string;
  verdict: 'pass' | 'warn' | 'fail' | 'skip';
  summary: string;
  remedy?: string;
  details?: Record<string, unknown>;
}

interface Report {
  ok: boolean;
  source: string | null;
  server: string | null;
  proxy: string | null;
  identity: { username: string; groups: string[] } | null;
  namespace: string | null;
  checks: Check[];
}

interface DoctorRun extends ProcessResult {
  report: Report;
}

let admin: KubeClient;
let ns = '';
let work = '';
const pods = {} as Record<'serviceAccount' | 'kubeconfig' | 'noToken' | 'proxy' | 'clients', V1Pod>;
/** The Proxy-mode profile of these tests: its ServiceAccount may get and list pods, nothing else. */
const PROXY_PROFILE = 'proxied';
const PROXY_URL = 'http://127.0.0.1:8001';

function parseReport(result: ProcessResult): DoctorRun {
  let report: Report;
  try {
    report = JSON.parse(result.stdout) as Report;
  } catch {
    assert.fail(`doctor --json did not print JSON (exit ${result.code})\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
  return { ...result, report };
}

/** doctor as the kubelet would have started it in the Pod's container. */
async function doctorInPod(pod: V1Pod, args: readonly string[] = []): Promise<DoctorRun> {
  return parseReport(await execInPod(pod as { metadata: { name: string; namespace: string } }, ['apiaccess', 'doctor', '--json', ...args]));
}

/** The operator image, as the synthesized Deployment names it: it carries the `apiaccess` CLI. */
const OPERATOR_IMAGE = (manifest('operator.k8s.yaml').find((o) => o.kind === 'Deployment') as unknown as { spec: { template: { spec: { containers: Array<{ image: string }> } } } }).spec.template.spec.containers[0]!.image;
/** A container that only waits, so doctor can be exec'd into it; non-root, read-only root filesystem. */
const WAITING_CONTAINER = `{name: app, image: ${OPERATOR_IMAGE}, imagePullPolicy: IfNotPresent, command: [/usr/local/bin/node, -e, "setInterval(() => {}, 3600000)"], securityContext: {runAsNonRoot: true, runAsUser: 65532, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}`;
/** The same container as an object, for Pods built from objects. */
const WAITING_CONTAINER_SPEC = {
  name: 'app',
  image: OPERATOR_IMAGE,
  imagePullPolicy: 'IfNotPresent',
  command: ['/usr/local/bin/node', '-e', 'setInterval(() => {}, 3600000)'],
  securityContext: { runAsNonRoot: true, runAsUser: 65532, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
};

/** doctor on this machine with an empty HOME and no KUBECONFIG, so only the flags count. */
async function doctorHere(args: readonly string[]): Promise<ProcessResult> {
  const home = mkdtempSync(join(work, 'home-'));
  return await runProgram(process.execPath, [BIN, 'doctor', ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home } });
}

function firstFailure(report: Report): string | undefined {
  return report.checks.find((c) => c.verdict === 'fail')?.name;
}

function check(report: Report, name: string): Check {
  const found = report.checks.find((c) => c.name === name);
  assert.ok(found, `no check ${name} in ${report.checks.map((c) => c.name).join(', ')}`);
  return found;
}

function explain(run: ProcessResult & { report?: Report }): string {
  const checks = run.report?.checks.map((c) => `${c.name} ${c.verdict}: ${c.summary}${c.remedy ? ` | fix: ${c.remedy}` : ''}`).join('\n') ?? run.stdout;
  return `exit ${run.code}\n${checks}\nstderr: ${run.stderr}`;
}

/** doctor --pod from this machine, as admin (who may patch pods/ephemeralcontainers and read pods/log). */
async function doctorPod(pod: V1Pod, args: readonly string[]): Promise<ProcessResult> {
  return await doctorHere(['--kubeconfig', kubeconfigPath('admin'), '--pod', pod.metadata!.name!, '-n', pod.metadata!.namespace!, ...args]);
}

/** Through the proxy: no check fails or warns, and exactly the checks that belong to the sidecar are not applicable. */
function assertPassThroughProxy(run: DoctorRun): void {
  assert.equal(run.code, 0, explain(run));
  assert.equal(run.report.ok, true, explain(run));
  assert.deepEqual(run.report.checks.filter((c) => c.verdict === 'fail' || c.verdict === 'warn').map((c) => c.name), [], explain(run));
  assert.deepEqual(run.report.checks.filter((c) => c.verdict === 'skip').map((c) => c.name), ['token-file', 'token-claims', 'ca-certificate', 'tls-handshake'], explain(run));
  for (const name of ['token-file', 'token-claims', 'ca-certificate']) assert.match(check(run.report, name).summary, /the proxy sidecar holds the token and the CA/, explain(run));
}

function assertAllPass(run: DoctorRun): void {
  assert.equal(run.code, 0, explain(run));
  assert.equal(run.report.ok, true, explain(run));
  assert.deepEqual(
    run.report.checks.filter((c) => c.verdict !== 'pass').map((c) => c.name),
    [],
    explain(run),
  );
}

/** A kubeconfig file for the test cluster's server (or another), with the given CA file and user entry. */
function writeKubeconfig(name: string, opts: { server?: string; caFile?: string; user: Record<string, unknown>; namespace?: string }): string {
  const path = join(work, `${name}.kubeconfig`);
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'local', cluster: { server: opts.server ?? testCluster().server, 'certificate-authority': opts.caFile ?? testCluster().caFile } }],
      users: [{ name: 'doctor', user: opts.user }],
      contexts: [{ name: 'local', context: { cluster: 'local', user: 'doctor', ...(opts.namespace ? { namespace: opts.namespace } : {}) } }],
      'current-context': 'local',
    }),
    { mode: 0o600 },
  );
  return path;
}

/**
 * A ServiceAccount token signed with the control plane's own key, with the header and issuer of a
 * real one: lets a test hold an expired (or nearly expired) token without waiting for one.
 */
async function forgeToken(expiresInSeconds: number): Promise<string> {
  const real = await admin.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${ns}/serviceaccounts/${SA}/token`, {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } },
  });
  const [headerPart, payloadPart] = real.status.token.split('.') as [string, string];
  const header = JSON.parse(Buffer.from(headerPart, 'base64url').toString()) as { alg: string; kid: string };
  const claims = JSON.parse(Buffer.from(payloadPart, 'base64url').toString()) as { iss: string; aud: string[]; 'kubernetes.io': unknown; sub: string };
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: claims.iss, aud: claims.aud, sub: claims.sub, 'kubernetes.io': claims['kubernetes.io'], iat: now - 7200, nbf: now - 7200, exp: now + expiresInSeconds };
  const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${encode({ alg: header.alg, kid: header.kid })}.${encode(payload)}`;
  assert.equal(header.alg, 'RS256');
  const key = createPrivateKey(readFileSync(testCluster().serviceAccount.signingKeyFile));
  return `${unsigned}.${sign('sha256', Buffer.from(unsigned), key).toString('base64url')}`;
}

async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

describe('apiaccess doctor', { concurrency: false }, () => {
  before(async () => {
    admin = adminClient();
    work = mkdtempSync(join(tmpdir(), 'apiaccess-doctor-'));
    ns = await createNamespace('doctor');
    // The generated kubeconfig of api.md (Kubeconfig/Generated): no credential, files beside it.
    const kubeconfig = stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'default', cluster: { server: 'https://kubernetes.default.svc:443', 'certificate-authority': `${MOUNT}/ca.crt` } }],
      users: [{ name: SA, user: { tokenFile: `${MOUNT}/token` } }],
      contexts: [{ name: 'default', context: { cluster: 'default', user: SA, namespace: ns } }],
      'current-context': 'default',
    });
    await applyYaml(`
apiVersion: v1
kind: ServiceAccount
metadata: {name: ${SA}, namespace: ${ns}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: list-pods, namespace: ${ns}}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ${SA}-list-pods, namespace: ${ns}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: list-pods}
subjects: [{kind: ServiceAccount, name: ${SA}, namespace: ${ns}}]
`);
    await applyYaml([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'apiaccess-doctor-kubeconfig', namespace: ns }, data: { kubeconfig } }]);
    // The projected volume reads kube-root-ca.crt, which the controller manager publishes per namespace.
    await waitFor(async () => admin.get(`/api/v1/namespaces/${ns}/configmaps/kube-root-ca.crt`), { what: 'kube-root-ca.crt', timeoutMs: 30_000 });
    await applyYaml(`
apiVersion: v1
kind: Pod
metadata: {name: sa-mode, namespace: ${ns}, labels: {doctor: sa-mode}}
spec:
  serviceAccountName: ${SA}
  automountServiceAccountToken: true
  terminationGracePeriodSeconds: 1
  containers: [${WAITING_CONTAINER}}]
---
apiVersion: v1
kind: Pod
metadata: {name: kubeconfig-mode, namespace: ${ns}, labels: {doctor: kubeconfig-mode}}
spec:
  serviceAccountName: ${SA}
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers:
  - ${WAITING_CONTAINER},
     env: [{name: KUBECONFIG, value: ${MOUNT}/kubeconfig}],
     volumeMounts: [{name: apiaccess-doctor, mountPath: ${MOUNT}, readOnly: true}]}
  volumes:
  - name: apiaccess-doctor
    projected:
      sources:
      - configMap: {name: apiaccess-doctor-kubeconfig, items: [{key: kubeconfig, path: kubeconfig, mode: 420}]}
      - serviceAccountToken: {path: token, expirationSeconds: 3600}
      - configMap: {name: kube-root-ca.crt, items: [{key: ca.crt, path: ca.crt}]}
---
apiVersion: v1
kind: Pod
metadata: {name: no-token, namespace: ${ns}, labels: {doctor: no-token}}
spec:
  serviceAccountName: ${SA}
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers: [${WAITING_CONTAINER}}]
`);
    // Proxy mode exactly as the operator injects it: the profile's objects (ServiceAccount, Role,
    // RoleBinding, the kubeconfig and rules ConfigMaps) and the pod-template injection, from the
    // operator's own pure builders, around a waiting container of the operator image.
    const parsed = parseSpec({ auth: 'Proxy', permissions: { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] } });
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.message);
    const proxyProfile = resolveProfile({ name: PROXY_PROFILE, namespace: ns, spec: parsed.spec });
    await applyYaml(desiredObjects(proxyProfile));
    const { injection } = podTemplateInjection(proxyProfile, ['app'], { proxyImage: OPERATOR_IMAGE });
    const app = injection.spec.containers![0]!;
    await applyYaml([
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'proxy-mode', namespace: ns, labels: { doctor: 'proxy-mode' } },
        spec: {
          serviceAccountName: injection.spec.serviceAccountName,
          automountServiceAccountToken: injection.spec.automountServiceAccountToken,
          terminationGracePeriodSeconds: 1,
          volumes: injection.spec.volumes,
          initContainers: injection.spec.initContainers,
          containers: [{ ...WAITING_CONTAINER_SPEC, env: app.env, volumeMounts: app.volumeMounts }],
        },
      },
      // An image without apiaccess (the clients image), ServiceAccount mode: doctor reaches it only through --pod.
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'clients-sa', namespace: ns, labels: { doctor: 'clients-sa' } },
        spec: {
          serviceAccountName: SA,
          automountServiceAccountToken: true,
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'app',
              image: EXAMPLES_IMAGE,
              imagePullPolicy: 'IfNotPresent',
              command: ['sleep', 'infinity'],
              securityContext: { runAsNonRoot: true, runAsUser: 65532, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } },
            },
          ],
        },
      },
    ]);
    pods.serviceAccount = await readyPod(admin, ns, 'doctor=sa-mode', undefined);
    pods.kubeconfig = await readyPod(admin, ns, 'doctor=kubeconfig-mode', undefined);
    pods.noToken = await readyPod(admin, ns, 'doctor=no-token', undefined);
    pods.proxy = await readyPod(admin, ns, 'doctor=proxy-mode', undefined);
    pods.clients = await readyPod(admin, ns, 'doctor=clients-sa', undefined);
  });

  after(() => {
    admin?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('GIVEN a Pod in ServiceAccount mode THEN every check passes in-cluster and the server names the ServiceAccount', async () => {
    const run = await doctorInPod(pods.serviceAccount, ['--can', 'list', 'pods']);

    assertAllPass(run);
    assert.equal(run.report.source, 'in-cluster');
    assert.equal(run.report.server, 'https://10.96.0.1:443');
    assert.equal(run.report.identity?.username, `system:serviceaccount:${ns}:${SA}`);
    assert.ok(run.report.identity?.groups.includes(`system:serviceaccounts:${ns}`));
    assert.equal(run.report.namespace, ns);
    assert.deepEqual(
      run.report.checks.map((c) => c.name),
      ['config-source', 'token-file', 'token-claims', 'ca-certificate', 'tcp-connect', 'tls-handshake', 'api-version', 'identity', 'permissions', 'can-list-pods'],
    );
    assert.equal(check(run.report, 'token-claims').details?.pod, 'sa-mode');
    assert.match(check(run.report, 'token-claims').summary, /signature not verified locally/);
    assert.match(check(run.report, 'permissions').summary, /pods: get, list/);
  });

  it('GIVEN a Pod in Kubeconfig/Generated mode THEN every check passes through KUBECONFIG, the tokenFile and the projected CA', async () => {
    const run = await doctorInPod(pods.kubeconfig, ['--can', 'get', 'pods']);

    assertAllPass(run);
    assert.equal(run.report.source, 'KUBECONFIG');
    assert.equal(run.report.server, 'https://kubernetes.default.svc:443');
    assert.equal(run.report.identity?.username, `system:serviceaccount:${ns}:${SA}`);
    assert.equal(run.report.namespace, ns);
    assert.equal(check(run.report, 'token-file').details?.path, `${MOUNT}/token`);
    assert.match(check(run.report, 'tls-handshake').summary, /verified kubernetes\.default\.svc against \/etc\/apiaccess\/ca\.crt/);
  });

  it('GIVEN KUBERNETES_SERVICE_HOST but no mounted token (automount off, no kubeconfig) THEN token-file fails and names the missing file', async () => {
    const run = await doctorInPod(pods.noToken);

    assert.equal(run.code, 1, explain(run));
    assert.equal(firstFailure(run.report), 'token-file', explain(run));
    assert.equal(check(run.report, 'config-source').verdict, 'warn');
    assert.match(check(run.report, 'config-source').summary, /KUBERNETES_SERVICE_HOST=10\.96\.0\.1.*not usable/);
    assert.match(check(run.report, 'token-file').summary, new RegExp(`${TOKEN_PATH} .*does not exist`));
    assert.match(check(run.report, 'token-file').remedy ?? '', /automountServiceAccountToken/);
    assert.equal(check(run.report, 'identity').verdict, 'skip');
    assert.equal(run.report.identity, null);
  });

  it('GIVEN --can delete pods for a ServiceAccount that may only get and list THEN that check fails with the denial and exit 1', async () => {
    const run = await doctorInPod(pods.serviceAccount, ['--can', 'get', 'pods', '--can', 'delete', 'pods']);

    assert.equal(run.code, 1, explain(run));
    assert.equal(firstFailure(run.report), 'can-delete-pods', explain(run));
    assert.equal(check(run.report, 'can-get-pods').verdict, 'pass');
    assert.match(check(run.report, 'can-delete-pods').summary, new RegExp(`denied: system:serviceaccount:${ns}:${SA} may not delete pods in namespace ${ns}`));
    assert.equal(run.report.checks.filter((c) => c.verdict === 'fail').length, 1, explain(run));
  });

  it('GIVEN a Pod in Proxy mode THEN doctor inside passes through the real sidecar, which holds the token and the CA, and --can get/list go through it for real', async () => {
    const run = await doctorInPod(pods.proxy, ['--can', 'list', 'pods', '--can', 'get', 'pods']);

    assertPassThroughProxy(run);
    assert.equal(run.report.source, 'KUBECONFIG');
    assert.equal(run.report.server, PROXY_URL);
    assert.equal(run.report.proxy, PROXY_URL);
    assert.equal(run.report.identity?.username, `system:serviceaccount:${ns}:${PROXY_PROFILE}`);
    assert.equal(run.report.namespace, ns);
    assert.match(check(run.report, 'config-source').summary, /that is the apiaccess proxy sidecar \(KUBERNETES_API_PROXY matches\)/);
    assert.match(check(run.report, 'tls-handshake').summary, /never leaves the Pod/);
    assert.match(check(run.report, 'identity').summary, /authenticated by the proxy sidecar's ServiceAccount token/);
    assert.match(check(run.report, 'can-list-pods').summary, new RegExp(`GET /api/v1/namespaces/${ns}/pods\\?limit=1 through the proxy answered 200`));
    assert.match(check(run.report, 'can-get-pods').summary, /through the proxy answered 404 \(no such object: the request was authorized\)/);
  });

  it('GIVEN a Proxy-mode Pod and --can of verbs its profile does not allow THEN each fails as the proxy\'s refusal, naming the rule to add', async () => {
    const run = await doctorInPod(pods.proxy, ['--can', 'list', 'pods', '--can', 'watch', 'pods', '--can', 'list', 'secrets']);

    assert.equal(run.code, 1, explain(run));
    assert.equal(firstFailure(run.report), 'can-watch-pods', explain(run));
    assert.equal(check(run.report, 'can-list-pods').verdict, 'pass', explain(run));
    const watch = check(run.report, 'can-watch-pods');
    const secrets = check(run.report, 'can-list-secrets');
    assert.match(watch.summary, new RegExp(`^refused by the proxy sidecar: watch pods in namespace ${ns} is not in the permissions of ApiAccessProfile ${ns}/${PROXY_PROFILE}`), explain(run));
    assert.equal(watch.remedy, `add to ApiAccessProfile ${ns}/${PROXY_PROFILE}'s spec.permissions.rules: {apiGroups: [""], resources: ["pods"], verbs: ["watch"]}`);
    assert.equal((watch.details?.proxy as { refusedBy?: string } | undefined)?.refusedBy, 'proxy');
    assert.equal(secrets.remedy, `add to ApiAccessProfile ${ns}/${PROXY_PROFILE}'s spec.permissions.rules: {apiGroups: [""], resources: ["secrets"], verbs: ["list"]}`);
  });

  it('GIVEN a Pod of an image without apiaccess (ServiceAccount mode) THEN doctor --pod prints the in-Pod report, as --json and as the table, with its verdict', async () => {
    const json = await doctorPod(pods.clients, ['--can', 'list', 'pods', '--json']);
    const run = parseReport(json);
    const table = await doctorPod(pods.clients, ['--can', 'delete', 'pods']);

    assertAllPass(run);
    assert.equal(run.report.source, 'in-cluster');
    assert.equal(run.report.server, 'https://10.96.0.1:443');
    assert.equal(run.report.identity?.username, `system:serviceaccount:${ns}:${SA}`);
    assert.equal(run.report.namespace, ns);
    // The token the kubelet mounted for the clients Pod, seen through the copied mount: bound to that Pod.
    assert.equal(check(run.report, 'token-claims').details?.pod, 'clients-sa');
    assert.match(json.stderr, new RegExp(`Added ephemeral container apiaccess-doctor-[a-z0-9]{5} \\(image ${OPERATOR_IMAGE.replace(/[.]/g, '\\.')}\\) to Pod ${ns}/clients-sa, targeting container app`));
    assert.equal(table.code, 1, table.stdout + table.stderr);
    assert.match(table.stdout, /^CHECK +VERDICT +SUMMARY$/m);
    assert.match(table.stdout, new RegExp(`^can-delete-pods +FAIL +denied: system:serviceaccount:${ns}:${SA} may not delete pods`, 'm'));
    assert.match(table.stdout, /FAILED at can-delete-pods/);
    const live = await admin.request<V1Pod>('GET', `/api/v1/namespaces/${ns}/pods/clients-sa`);
    assert.equal(live.spec?.ephemeralContainers?.filter((c) => /^apiaccess-doctor-[a-z0-9]{5}$/.test(c.name)).length, 2);
  });

  it('GIVEN doctor --pod on a Proxy-mode Pod THEN the ephemeral container reaches the sidecar on the Pod\'s loopback', async () => {
    const run = parseReport(await doctorPod(pods.proxy, ['--can', 'list', 'pods', '--json']));

    assertPassThroughProxy(run);
    assert.equal(run.report.proxy, PROXY_URL);
    assert.equal(run.report.identity?.username, `system:serviceaccount:${ns}:${PROXY_PROFILE}`);
  });

  it('GIVEN doctor --pod naming a container the Pod does not have THEN it exits 1 naming the Pod and its containers', async () => {
    const run = await doctorPod(pods.clients, ['--container', 'nope']);

    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, new RegExp(`Pod ${ns}/clients-sa has no container nope; its containers: app`));
  });

  it('GIVEN a kubeconfig whose CA is another self-signed CA THEN ca-certificate passes and tls-handshake fails', async () => {
    const key = join(work, 'other-ca.key');
    const cert = join(work, 'other-ca.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=not-the-cluster-ca', '-days', '2'], { stdio: 'ignore' });
    const kubeconfig = writeKubeconfig('wrong-ca', { caFile: cert, user: { token: testCluster().tokens.alice } });

    const run = parseReport(await doctorHere(['--kubeconfig', kubeconfig, '--json']));

    assert.equal(run.code, 1, explain(run));
    assert.equal(firstFailure(run.report), 'tls-handshake', explain(run));
    assert.match(check(run.report, 'ca-certificate').summary, /CN=not-the-cluster-ca/);
    assert.match(check(run.report, 'tls-handshake').summary, /unable to verify the first certificate/);
    assert.match(check(run.report, 'tls-handshake').remedy ?? '', /not the CA that signed/);
  });

  it('GIVEN a server address where nothing listens THEN tcp-connect fails with ECONNREFUSED and points at the server setting', async () => {
    const kubeconfig = writeKubeconfig('wrong-server', { server: `https://127.0.0.1:${await unusedPort()}`, user: { token: testCluster().tokens.alice } });

    const run = parseReport(await doctorHere(['--kubeconfig', kubeconfig, '--json']));

    assert.equal(run.code, 1, explain(run));
    assert.equal(firstFailure(run.report), 'tcp-connect', explain(run));
    assert.match(check(run.report, 'tcp-connect').summary, /ECONNREFUSED/);
    assert.match(check(run.report, 'tcp-connect').remedy ?? '', /the server of cluster "local" in .*wrong-server\.kubeconfig/);
    assert.equal(check(run.report, 'tls-handshake').verdict, 'skip');
  });

  it('GIVEN an expired token signed with the cluster key THEN token-claims fails (and the server would answer 401)', async () => {
    const tokenFile = join(work, 'expired.token');
    writeFileSync(tokenFile, await forgeToken(-3600));
    const kubeconfig = writeKubeconfig('expired', { user: { tokenFile } });

    const run = parseReport(await doctorHere(['--kubeconfig', kubeconfig, '--json']));
    const server = await kubectl(['get', '--raw', '/api'], { kubeconfig });

    assert.equal(run.code, 1, explain(run));
    assert.equal(firstFailure(run.report), 'token-claims', explain(run));
    assert.match(check(run.report, 'token-claims').summary, new RegExp(`expired 60m ago .*subject system:serviceaccount:${ns}:${SA}`));
    assert.equal(check(run.report, 'identity').verdict, 'skip');
    assert.notEqual(server.code, 0);
    assert.match(server.stderr, /Unauthorized/);
  });

  it('GIVEN the same forged token valid for one more hour THEN identity passes: the expiry alone made the difference', async () => {
    const tokenFile = join(work, 'fresh.token');
    writeFileSync(tokenFile, await forgeToken(3600));
    const kubeconfig = writeKubeconfig('fresh', { user: { tokenFile }, namespace: ns });

    const run = parseReport(await doctorHere(['--kubeconfig', kubeconfig, '--json']));

    assertAllPass(run);
    assert.equal(run.report.identity?.username, `system:serviceaccount:${ns}:${SA}`);
  });

  it('GIVEN a token that expires in 5 minutes THEN token-claims warns and doctor still exits 0', async () => {
    const tokenFile = join(work, 'expiring.token');
    writeFileSync(tokenFile, await forgeToken(300));
    const kubeconfig = writeKubeconfig('expiring', { user: { tokenFile }, namespace: ns });

    const run = parseReport(await doctorHere(['--kubeconfig', kubeconfig, '--json']));

    assert.equal(run.code, 0, explain(run));
    assert.equal(check(run.report, 'token-claims').verdict, 'warn');
    assert.match(check(run.report, 'token-claims').summary, /in [45]m/);
    assert.equal(check(run.report, 'identity').verdict, 'pass');
  });

  it('GIVEN a malformed kubeconfig THEN config-source fails naming the file and the YAML problem', async () => {
    const kubeconfig = join(work, 'malformed.kubeconfig');
    writeFileSync(kubeconfig, 'apiVersion: v1\nclusters: [ {name: local, cluster: {server: https://x\n');

    const run = parseReport(await doctorHere(['--kubeconfig', kubeconfig, '--json']));

    assert.equal(run.code, 1, explain(run));
    assert.equal(firstFailure(run.report), 'config-source', explain(run));
    assert.match(check(run.report, 'config-source').summary, new RegExp(`${kubeconfig}: not valid YAML`));
    assert.equal(run.report.source, null);
    assert.ok(run.report.checks.slice(1).every((c) => c.verdict === 'skip'), explain(run));
  });

  it('GIVEN the human table THEN it shows every check and remedy without colour off a terminal, and never the token', async () => {
    const token = await forgeToken(-60);
    const kubeconfig = writeKubeconfig('table', { user: { token } });

    const table = await doctorHere(['--kubeconfig', kubeconfig, '--can', 'list', 'pods']);
    const json = await doctorHere(['--kubeconfig', kubeconfig, '--json']);

    assert.equal(table.code, 1, table.stdout + table.stderr);
    assert.match(table.stdout, /^CHECK +VERDICT +SUMMARY$/m);
    assert.match(table.stdout, /^token-claims +FAIL +expired/m);
    assert.match(table.stdout, /^ +fix: get a fresh token/m);
    assert.match(table.stdout, /^can-list-pods +SKIP +not run: waits for identity/m);
    assert.match(table.stdout, /FAILED at token-claims/);
    assert.doesNotMatch(table.stdout, /\x1b\[/);
    const signature = token.split('.')[2]!;
    for (const output of [table.stdout, table.stderr, json.stdout, json.stderr]) assert.ok(!output.includes(signature), 'the token appeared in the output');
  });

  it('GIVEN bad usage THEN doctor exits 2: --can with one word, an unknown flag', async () => {
    const oneWord = await doctorHere(['--can', 'get']);
    const unknown = await doctorHere(['--bogus']);

    assert.equal(oneWord.code, 2, oneWord.stderr);
    assert.match(oneWord.stderr, /--can takes two words/);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /unknown option '--bogus'/);
  });
});
