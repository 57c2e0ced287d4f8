// The client compatibility matrix, proven in real Pods and written to docs/clients.md (and
// clients.json) from the run: rows are the clients of the clients image, columns the ways a profile
// gives credentials. One Pod per cell, all started at once, so that one kubelet token rotation
// (600 s tokens, renewed at 80 %) covers every cell: ~12 minutes. An old token stays valid after the
// rotation, so "still works" proves nothing: the API server's audit log names the credential
// (`authentication.kubernetes.io/credential-id: JTI=<token id>`) of every request, and requests
// after the rotation must carry the new token's. Cells that the clients' sources say fail (Python
// and client-node with a generated kubeconfig) are asserted to fail that way, so that a change in a
// client or in the product shows up here.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'yaml';
import { EXAMPLES_IMAGE } from '../manifests/examples.ts';
import { kubeconfigConfigMapName } from '../operator/desired/names.ts';
import type { KubeClient, KubeObject } from '../operator/kube/client.ts';
import { auditEventsSince, auditMark, CREDENTIAL_ID, POD_NAME, type AuditEvent } from './audit.ts';
import { certificateKubeconfig, signedClientCertificate } from './certificates.ts';
import { clientCommand, parseOutcomes } from './client-matrix/clients.ts';
import { CLIENTS_UID, COLUMN_SPECS, TOKEN_SECONDS } from './client-matrix/columns.ts';
import { expectedCell, mismatches } from './client-matrix/expectations.ts';
import { ALLOWED_REQUEST, cellName, CLIENTS, COLUMNS, EXPIRY_LEEWAY_MS, FORBIDDEN_REQUEST, GRANT, type AuditedRequest, type CellResult, type ClientId, type ColumnId, type MatrixRun, type MissingColumn, type TokenObservation, type Versions } from './client-matrix/matrix.ts';
import { measureCell } from './client-matrix/measure.ts';
import { renderClientsMarkdown } from './client-matrix/render.ts';
import { applyYaml, createNamespace, testCluster, waitFor } from './harness.ts';
import { adminClient } from './operator-process.ts';
import { execInPod, readyPod } from './pods.ts';

const repoRoot = resolve(import.meta.dirname, '..');
const HASH = 'apiaccess.dev/config-hash';
const PROFILE = 'apiaccess.dev/profile';
/** client-go re-reads a tokenFile about once a minute, as do the in-cluster loaders of Python and client-node. */
const REREAD_MS = 90_000;
const ROUND_MS = 10_000;
/** Rounds each rotating cell must have made after its re-read period before it is judged. */
const JUDGED_ROUNDS = 3;
const TOKEN_POLL_MS = 20_000;
/** 15-20 Pods start at once on a loaded 2-core node. */
const POD_START_MS = 5 * 60_000;
const CONTAINER = 'client';
/** How the doc names the user of a request the API server could not authenticate (the audit log has none). */
const UNAUTHENTICATED = '(unauthenticated)';

/** Columns this run cannot measure yet, with the reason the doc shows. */
const MISSING_COLUMNS: readonly MissingColumn[] = [];

type Obj = KubeObject & { spec?: any; status?: any; data?: Record<string, string> };
type Pod = Awaited<ReturnType<typeof readyPod>>;

interface Cell {
  readonly client: ClientId;
  readonly column: ColumnId;
  readonly name: string;
  /** The client certificate's user (Secret column). */
  readonly certUser?: string;
}

let admin: KubeClient;
let ns = '';
const clusterScoped: string[] = [];

function deployment(cell: Cell, replicas: number): object {
  const column = COLUMN_SPECS[cell.column];
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: cell.name, namespace: ns, labels: { [PROFILE]: cell.name } },
    spec: {
      replicas,
      strategy: { type: 'Recreate' },
      selector: { matchLabels: { app: cell.name } },
      template: {
        metadata: { labels: { app: cell.name } },
        spec: {
          securityContext: { runAsNonRoot: true, runAsUser: CLIENTS_UID, runAsGroup: CLIENTS_UID, ...column.podSecurityContext },
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: CONTAINER,
              image: EXAMPLES_IMAGE,
              imagePullPolicy: 'IfNotPresent',
              command: clientCommand(cell.client, cell.column),
              env: [{ name: 'HOME', value: '/tmp' }],
              resources: { requests: { cpu: '5m', memory: '32Mi' } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, ...column.volumeMounts],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: {} }, ...column.volumes],
        },
      },
    },
  };
}

interface Kubeconfig {
  readonly clusters?: Array<{ cluster?: Record<string, unknown> }>;
  readonly users?: Array<{ user?: Record<string, unknown> }>;
}

function kubeconfigOf(configMap: Obj | undefined): Kubeconfig {
  return (parse(configMap?.data?.kubeconfig ?? '{}') ?? {}) as Kubeconfig;
}

interface Claims {
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
}

function claimsOf(token: string): Claims {
  const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Partial<Claims>;
  if (claims.jti === undefined || claims.iat === undefined || claims.exp === undefined) throw new Error(`the token has no jti/iat/exp: ${JSON.stringify(claims)}`);
  return claims as Claims;
}

async function readToken(pod: Pod, cell: Cell): Promise<Claims> {
  const token = COLUMN_SPECS[cell.column].token!;
  const r = await execInPod(pod, token.read ?? ['cat', token.path], token.container ?? CONTAINER);
  assert.equal(r.code, 0, `${cell.name}: cat ${token.path}: ${r.stderr}`);
  return claimsOf(r.stdout.trim());
}

/** Polls the token file from shortly before 80 % of its lifetime until the kubelet replaced it. */
async function observeRotation(pod: Pod, cell: Cell, first: Claims): Promise<TokenObservation> {
  const renewAt = (first.iat + 0.8 * (first.exp - first.iat)) * 1000;
  await sleep(Math.max(0, renewAt - 30_000 - Date.now()));
  let lastOldSeenAt = Date.now();
  const rotated = await waitFor(
    async () => {
      const seenAt = Date.now();
      const claims = await readToken(pod, cell);
      if (claims.jti === first.jti) {
        lastOldSeenAt = seenAt;
        return undefined;
      }
      return { claims, seenAt: Date.now() };
    },
    // The kubelet renews at 80 % on its next volume sync; it must be done well before the token expires.
    { timeoutMs: Math.max(60_000, first.exp * 1000 + 120_000 - Date.now()), intervalMs: TOKEN_POLL_MS, what: `the kubelet to rotate the ${TOKEN_SECONDS} s token of ${cell.name}` },
  );
  return { oldJti: first.jti, newJti: rotated.claims.jti, lastOldSeenAt, rotatedSeenAt: rotated.seenAt, oldExpiresAt: first.exp * 1000 };
}

async function podLog(pod: Pod): Promise<string> {
  return await admin.request<string>('GET', `/api/v1/namespaces/${ns}/pods/${pod.metadata.name}/log`, { query: { container: CONTAINER, timestamps: true } });
}

function auditedRequest(e: AuditEvent): AuditedRequest {
  const o = e.objectRef;
  const isPods = o?.resource === 'pods' && o.subresource === undefined;
  const request =
    isPods && e.verb === ALLOWED_REQUEST.verb && o?.namespace === undefined
      ? 'allowed'
      : isPods && e.verb === FORBIDDEN_REQUEST.verb && o?.namespace === FORBIDDEN_REQUEST.namespace && o.name === FORBIDDEN_REQUEST.name
        ? 'forbidden'
        : 'other';
  return { at: Date.parse(e.stageTimestamp), request, status: e.responseStatus?.code ?? 0, user: e.user.username ?? UNAUTHENTICATED, credential: e.user.extra?.[CREDENTIAL_ID]?.[0] };
}

/** The Pod's requests: its Pod-bound token names it; a certificate names its user; an unauthenticated request has only the Pod's address. */
function fromPod(pod: Pod, cell: Cell): (e: AuditEvent) => boolean {
  const started = Date.parse(String(pod.status?.startTime ?? pod.metadata.creationTimestamp ?? ''));
  return (e) =>
    e.user.extra?.[POD_NAME]?.[0] === pod.metadata.name ||
    (cell.certUser !== undefined && e.user.username === cell.certUser) ||
    (pod.status?.podIP !== undefined && e.sourceIPs?.[0] === pod.status.podIP && Date.parse(e.stageTimestamp) >= started);
}

async function versions(pod: Pod): Promise<Versions> {
  const r = await execInPod(
    pod,
    `kubectl version --client -o json | sed -n 's/.*"gitVersion": *"\\([^"]*\\)".*/\\1/p' | head -n 1; python3 --version | cut -d' ' -f2; python3 -c 'import kubernetes; print(kubernetes.__version__)'; node -p "require('/work/node_modules/@kubernetes/client-node/package.json').version"; node --version; curl --version | head -n 1 | cut -d' ' -f2`,
  );
  assert.equal(r.code, 0, r.stderr);
  const [kubectl, python, pythonKubernetes, clientNode, node, curl] = r.stdout.trim().split('\n');
  const goMod = await readFile(join(repoRoot, 'test', 'images', 'client-go-examples', 'go.mod'), 'utf8');
  const server = await admin.request<{ gitVersion: string }>('GET', '/version');
  return {
    kubernetes: server.gitVersion,
    kubectl: kubectl ?? '?',
    clientGo: /^require k8s\.io\/client-go (v\S+)$/m.exec(goMod)?.[1] ?? '?',
    python: python ?? '?',
    pythonKubernetes: pythonKubernetes ?? '?',
    clientNode: clientNode ?? '?',
    node: node ?? '?',
    curl: curl ?? '?',
  };
}

describe('client compatibility matrix, in real Pods, across a real kubelet token rotation', () => {
  before(async () => {
    admin = adminClient();
    ns = await createNamespace('matrix');
  });
  after(async () => {
    // Frees the node for the other files at once; the profiles' finalizers remove their cluster-scoped RBAC.
    await admin?.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => undefined);
    for (const path of clusterScoped) await admin?.request('DELETE', path).catch(() => undefined);
    admin?.close();
  });

  it('allowed succeeds, forbidden is refused, and after the rotation each client uses the new token, or fails the way its source says; docs/clients.md is written from the run', { timeout: 35 * 60_000 }, async () => {
    const started = Date.now();
    const missing = new Set(MISSING_COLUMNS.map((m) => m.column));
    const cells: Cell[] = COLUMNS.filter((c) => !missing.has(c)).flatMap((column) =>
      CLIENTS.map((client) => ({ client, column, name: cellName(client, column), ...(column === 'Secret' ? { certUser: `matrix-${client}-${ns}` } : {}) })),
    );

    // The Secret column: a user's kubeconfig with a client certificate per cell (seed 000), and RBAC for those users.
    const secrets: object[] = [];
    for (const cell of cells.filter((c) => c.certUser !== undefined)) {
      const { certificate, key } = await signedClientCertificate(admin, { user: cell.certUser! });
      const kubeconfig = await certificateKubeconfig({ server: 'https://kubernetes.default.svc', caFile: testCluster().caFile, user: cell.client, certificate, key });
      secrets.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `${cell.name}-kubeconfig`, namespace: ns }, stringData: { kubeconfig } });
    }
    const certRole = `apiaccess-test-${ns}-list-pods`;
    clusterScoped.push(`/apis/rbac.authorization.k8s.io/v1/clusterroles/${certRole}`, `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${certRole}`);
    await applyYaml([
      ...secrets,
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: certRole }, rules: GRANT.rules },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: certRole },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: certRole },
        subjects: cells.filter((c) => c.certUser !== undefined).map((c) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: c.certUser })),
      },
      ...cells.map((cell) => ({ apiVersion: 'apiaccess.dev/v1alpha1', kind: 'ApiAccessProfile', metadata: { name: cell.name, namespace: ns }, spec: COLUMN_SPECS[cell.column].profileSpec(`${cell.name}-kubeconfig`) })),
      // No replica until the operator injected the template: every cell's Pod is the injected one.
      ...cells.map((cell) => deployment(cell, 0)),
    ]);
    const hashes = await Promise.all(
      cells.map(async (cell) =>
        await waitFor(async () => (await admin.get<Obj>(`/apis/apps/v1/namespaces/${ns}/deployments/${cell.name}`))?.spec.template.metadata?.annotations?.[HASH] as string | undefined, {
          timeoutMs: 180_000,
          intervalMs: 1000,
          what: `the operator to inject Deployment ${cell.name}`,
        }),
      ),
    );
    const generated = cells.find((c) => c.column === 'Generated');
    const generatedConfigMap = generated ? await admin.get<Obj>(`/api/v1/namespaces/${ns}/configmaps/${kubeconfigConfigMapName(generated.name)}`) : undefined;
    const generatedUser = (kubeconfigOf(generatedConfigMap).users?.[0]?.user ?? {}) as Record<string, unknown>;
    const proxied = cells.find((c) => c.column === 'Proxy');
    const proxyConfigMap = proxied ? await admin.get<Obj>(`/api/v1/namespaces/${ns}/configmaps/${kubeconfigConfigMapName(proxied.name)}`) : undefined;
    const proxyCluster = (kubeconfigOf(proxyConfigMap).clusters?.[0]?.cluster ?? {}) as Record<string, unknown>;
    const shapes = { generatedUser, proxyCluster };

    const mark = await auditMark();
    await applyYaml(cells.map((cell) => deployment(cell, 1)));
    const pods = await Promise.all(cells.map(async (cell, i) => await readyPod(admin, ns, `app=${cell.name}`, hashes[i], `Deployment ${cell.name}`, POD_START_MS)));

    // The first token of every rotating cell, then its rotation, all cells at once.
    const rotating = cells.map((cell, i) => ({ cell, pod: pods[i]! })).filter(({ cell }) => COLUMN_SPECS[cell.column].token !== undefined);
    const firsts = await Promise.all(rotating.map(async ({ cell, pod }) => await readToken(pod, cell)));
    const observations = new Map<string, TokenObservation>();
    await Promise.all(rotating.map(async ({ cell, pod }, i) => observations.set(cell.name, await observeRotation(pod, cell, firsts[i]!))));

    // Every rotating cell made its rounds after its re-read period and after its old token is
    // refused (a client still sending it gets 401 from then on), in its own log.
    const logs = new Map<string, string>();
    const judgedFrom = (cell: Cell): number => {
      const o = observations.get(cell.name)!;
      return Math.max(o.rotatedSeenAt + REREAD_MS, o.oldExpiresAt + EXPIRY_LEEWAY_MS);
    };
    await waitFor(
      async () => {
        for (const [i, cell] of cells.entries()) logs.set(cell.name, await podLog(pods[i]!));
        return rotating.every(({ cell }) => parseOutcomes(cell.client, logs.get(cell.name)!).filter((o) => o.request === 'allowed' && o.at >= judgedFrom(cell)).length >= JUDGED_ROUNDS);
      },
      {
        timeoutMs: Math.max(...rotating.map(({ cell }) => judgedFrom(cell))) - Date.now() + (JUDGED_ROUNDS + 6) * ROUND_MS * 2,
        intervalMs: 15_000,
        what: `${JUDGED_ROUNDS} rounds of every rotating cell after its re-read period and its old token's expiry`,
      },
    );
    // The audit log is written asynchronously: the last rounds' events may lag a little.
    await sleep(5_000);
    const events = await auditEventsSince(mark);

    const results: CellResult[] = [];
    for (const [i, cell] of cells.entries()) {
      const pod = pods[i]!;
      const status = await admin.get<Obj>(`/api/v1/namespaces/${ns}/pods/${pod.metadata.name}`);
      const spec = COLUMN_SPECS[cell.column];
      results.push(
        measureCell({
          client: cell.client,
          column: cell.column,
          pod: pod.metadata.name,
          expectedUser: cell.certUser ?? `system:serviceaccount:${ns}:${cell.name}`,
          restarts: (status?.status?.containerStatuses as Array<{ name: string; restartCount: number }> | undefined)?.find((c) => c.name === CONTAINER)?.restartCount ?? -1,
          outcomes: parseOutcomes(cell.client, logs.get(cell.name)!),
          audited: events.filter(fromPod(status as Pod, cell)).map(auditedRequest),
          token: observations.get(cell.name) ?? { notApplicable: spec.noRotation ?? 'no token' },
          rereadMs: REREAD_MS,
        }),
      );
    }
    const compatible = generated
      ? ((await admin.get<Obj>(`/apis/apiaccess.dev/v1alpha1/namespaces/${ns}/apiaccessprofiles/${generated.name}`))?.status?.conditions as Array<{ type: string; status: string; reason: string; message: string }> | undefined)?.find((c) => c.type === 'ClientsCompatible')
      : undefined;
    const run: MatrixRun = {
      date: new Date().toISOString().slice(0, 10),
      durationSeconds: Math.round((Date.now() - started) / 1000),
      tokenExpirationSeconds: TOKEN_SECONDS,
      rereadSeconds: REREAD_MS / 1000,
      versions: await versions(pods[0]!),
      generatedUser,
      proxyCluster,
      ...(compatible ? { generatedClientsCompatible: { status: compatible.status, reason: compatible.reason, message: compatible.message } } : {}),
      cells: results,
      missingColumns: MISSING_COLUMNS,
    };
    // Written before the assertions, so a run that finds a difference documents it.
    await writeFile(join(repoRoot, 'docs', 'clients.json'), `${JSON.stringify(run, null, 2)}\n`);
    await writeFile(join(repoRoot, 'docs', 'clients.md'), renderClientsMarkdown(run));

    const differences = results.flatMap((cell) => [
      ...mismatches(cell, expectedCell(cell.client, cell.column, shapes)),
      ...(cell.restarts === 0 ? [] : [`${cell.client} × ${cell.column}: the one client process restarted ${cell.restarts} times`]),
    ]);
    assert.deepEqual(differences, [], `The matrix differs from what the clients' sources say (docs/clients.md shows the run):\n${differences.join('\n')}`);
  });
});
