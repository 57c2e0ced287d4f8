// Installs the synthesized manifests into a local control plane and gives the operator its own
// ServiceAccount credentials, for tests and `npm start`. Applies with the operator's raw-JSON client:
// client-node's typed serializer drops CRD schema keys it renames (`default`, `enum`,
// `x-kubernetes-validations`), so it cannot apply a CRD faithfully.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { KubeClient, type KubeObject } from '../operator/kube/client.ts';
import type { ClusterInfo } from './cluster/cluster-info.ts';

const repoRoot = resolve(import.meta.dirname, '..');
const dist = join(repoRoot, 'manifests', 'dist');
/** What a user applies to install the operator: the CRD folder and the synthesized install. */
export const INSTALL_FILES = [join(repoRoot, 'crds'), join(dist, 'operator.k8s.yaml')] as const;
const LEASE_NAME = 'apiaccess-operator';
const OPERATOR_SELECTOR = 'app.kubernetes.io/name=apiaccess-operator';
export const OPERATOR_NAMESPACE = 'apiaccess-system';
export const OPERATOR_SA = 'apiaccess-operator';
const CRD_PATH = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/apiaccessprofiles.apiaccess.dev';

export type Manifest = KubeObject & { apiVersion: string; kind: string };

export function manifest(file: 'operator.k8s.yaml' | 'examples.k8s.yaml'): Manifest[] {
  return parseAllDocuments(readFileSync(join(dist, file), 'utf8')).map((d) => d.toJS() as Manifest);
}

export function clientFor(kubeconfigFile: string): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigFile);
  return KubeClient.fromKubeConfig(kc, { userAgent: 'apiaccess-install' });
}

export function adminClientFor(info: ClusterInfo): KubeClient {
  return clientFor(info.kubeconfigs.admin);
}

/** Server-side apply of each object, in order, as the kubeconfig's user (forced: the caller owns them). */
export async function applyAll(kubeconfigFile: string, objects: readonly object[], fieldManager = 'apiaccess-install'): Promise<KubeObject[]> {
  const client = clientFor(kubeconfigFile);
  try {
    const out: KubeObject[] = [];
    for (const obj of objects) out.push(await client.apply(obj as Manifest, { fieldManager, force: true }));
    return out;
  } finally {
    client.close();
  }
}

/**
 * The CRD, the operator's namespace, ServiceAccount and RBAC, and the CRD Established, without the
 * Deployment: for a private control plane where the test runs the operator process itself.
 */
export async function installOperator(info: ClusterInfo): Promise<void> {
  const objects = manifest('operator.k8s.yaml').filter((o) => o.kind !== 'Deployment' && o.kind !== 'Service');
  await applyAll(info.kubeconfigs.admin, objects);
  const client = adminClientFor(info);
  try {
    for (let i = 0; i < 300; i++) {
      const crd = await client.get<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(CRD_PATH);
      if (crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (i === 299) throw new Error('The ApiAccessProfile CRD did not become Established within 30 s');
      await sleep(100);
    }
    await waitForAuthorGuard(client);
  } finally {
    client.close();
  }
}

/**
 * Established is not enough to write profiles: the author policies must be active and the
 * MutatingAdmissionPolicy must have the CRD's schema, which it learns from OpenAPI discovery a few
 * seconds later (until then it answers 503 "Resource kind ... not found. There can be a delay ...").
 * A server-side dry-run of a profile runs admission: once it comes back stamped, writes work.
 */
export async function waitForAuthorGuard(client: KubeClient, timeoutMs = 60_000): Promise<void> {
  const probe = { apiVersion: 'apiaccess.dev/v1alpha1', kind: 'ApiAccessProfile', metadata: { name: 'apiaccess-install-probe', namespace: 'default' }, spec: { auth: 'ServiceAccount' } };
  const deadline = Date.now() + timeoutMs;
  let last = 'not stamped';
  while (Date.now() < deadline) {
    try {
      const answer = await client.apply<KubeObject & { spec?: { author?: unknown } }>(probe, { fieldManager: 'apiaccess-install', force: true, dryRun: true });
      if (answer.spec?.author !== undefined) return;
      last = 'the MutatingAdmissionPolicy did not stamp spec.author yet';
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`ApiAccessProfiles could not be written with their author stamped within ${timeoutMs / 1000} s: ${last}`);
}

/** A kubeconfig with a token of the operator's ServiceAccount (TokenRequest), as the kubelet would mount it. */
export async function writeOperatorKubeconfig(info: ClusterInfo, file: string, expirationSeconds = 86_400): Promise<string> {
  const client = adminClientFor(info);
  try {
    const tr = await client.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${OPERATOR_NAMESPACE}/serviceaccounts/${OPERATOR_SA}/token`, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds } },
    });
    writeFileSync(
      file,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'local', cluster: { server: info.server, 'certificate-authority': info.caFile } }],
        users: [{ name: OPERATOR_SA, user: { token: tr.status.token } }],
        contexts: [{ name: `${OPERATOR_SA}@local`, context: { cluster: 'local', user: OPERATOR_SA, namespace: OPERATOR_NAMESPACE } }],
        'current-context': `${OPERATOR_SA}@local`,
      }),
      { mode: 0o600 },
    );
    return file;
  } finally {
    client.close();
  }
}

type ProgramRun = (args: readonly string[], options?: { input?: string }) => Promise<{ code: number; stdout: string; stderr: string }>;

/** `kubectl apply -f` of files or folders (or of YAML text on stdin), failing with kubectl's own message. */
export async function kubectlApply(kubectl: ProgramRun, sources: readonly string[] | { yaml: string }): Promise<string> {
  const args = 'yaml' in sources ? ['apply', '-f', '-'] : ['apply', ...sources.flatMap((f) => ['-f', f])];
  const result = await kubectl(args, 'yaml' in sources ? { input: sources.yaml } : {});
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (exit ${result.code}):\n${result.stderr || result.stdout}`);
  return result.stdout;
}

interface Condition { type: string; status: string; reason?: string; message?: string }
type Deployment = KubeObject & { status?: { conditions?: Condition[]; availableReplicas?: number } };
type Pod = KubeObject & { status?: { phase?: string; containerStatuses?: Array<{ ready: boolean; state?: { waiting?: { reason?: string; message?: string } } }> } };

/**
 * Waits until the operator Deployment is Available and one of its ready Pods holds the leader Lease;
 * resolves with that Pod's name. On timeout the error says what was missing (Pod states included).
 */
/**
 * The Pod a Lease holder identity names: the operator's identity is `<pod name>_<random>` (a Pod name
 * never holds `_`), unique per process.
 */
export function holderPod(identity: string | undefined): string | undefined {
  return identity?.split('_')[0];
}

export async function waitForOperator(client: KubeClient, timeoutMs = 180_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let missing = '';
  while (Date.now() < deadline) {
    const deployment = await client.get<Deployment>(`/apis/apps/v1/namespaces/${OPERATOR_NAMESPACE}/deployments/${OPERATOR_SA}`);
    const available = deployment?.status?.conditions?.find((c) => c.type === 'Available');
    const lease = await client.get<{ spec?: { holderIdentity?: string } }>(`/apis/coordination.k8s.io/v1/namespaces/${OPERATOR_NAMESPACE}/leases/${LEASE_NAME}`);
    const pods = await client.request<{ items: Pod[] }>('GET', `/api/v1/namespaces/${OPERATOR_NAMESPACE}/pods`, { query: { labelSelector: OPERATOR_SELECTOR } });
    const leader = pods.items.find((p) => p.metadata.name === holderPod(lease?.spec?.holderIdentity) && p.status?.containerStatuses?.every((c) => c.ready));
    if (available?.status === 'True' && leader !== undefined) return leader.metadata.name;
    const states = pods.items.map((p) => `${p.metadata.name} ${p.status?.phase ?? '?'}${(p.status?.containerStatuses ?? []).map((c) => (c.state?.waiting ? ` ${c.state.waiting.reason ?? ''} ${c.state.waiting.message ?? ''}` : '')).join('')}`);
    missing = `Deployment Available=${available?.status ?? 'unknown'} (${available?.message ?? 'no status yet'}); Lease holder ${lease?.spec?.holderIdentity ?? 'none'}; Pods: ${states.join('; ') || 'none'}`;
    await sleep(500);
  }
  throw new Error(`The operator did not become ready within ${timeoutMs / 1000} s: ${missing}`);
}
