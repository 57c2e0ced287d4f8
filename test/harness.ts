// The test API over the control plane that test/run.ts starts once per `npm test` and hands to every
// test process through APIACCESS_TEST_CLUSTER (the path of its cluster.json).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import type { ClusterInfo, UserName } from './cluster/cluster-info.ts';
import { runKubectl, type ProcessResult } from './clients.ts';
import { applyAll } from './install.ts';
import type { KubeObject } from '../operator/kube/client.ts';

export type { ClusterInfo, UserName } from './cluster/cluster-info.ts';
export type { ProcessResult } from './clients.ts';

export const TEST_CLUSTER_ENV = 'APIACCESS_TEST_CLUSTER';
const DEFAULT_FIELD_MANAGER = 'apiaccess-test';

let cached: ClusterInfo | undefined;

/** The shared control plane of this test run; throws when the test was not started by test/run.ts. */
export function testCluster(): ClusterInfo {
  if (cached) return cached;
  const path = process.env[TEST_CLUSTER_ENV];
  if (!path) {
    throw new Error(`${TEST_CLUSTER_ENV} is not set: run integration tests through \`npm test\` or \`npx tsx test/run.ts <files>\`, which start the local control plane`);
  }
  cached = JSON.parse(readFileSync(path, 'utf8')) as ClusterInfo;
  return cached;
}

/**
 * Points this test process at a control plane of its own, with no node (for tests that stop, kill
 * or count the requests of an operator process, which must be the only operator acting on their
 * objects). Started beside the shared cluster's folder, so the runner stops it whatever happens to
 * this process; `stopPrivateControlPlane` in the file's last `after` frees it earlier.
 */
export async function usePrivateControlPlane(): Promise<ClusterInfo> {
  const shared = process.env[TEST_CLUSTER_ENV];
  if (!shared) testCluster();
  const { startControlPlane } = await import('./cluster/control-plane.ts');
  const dir = join(dirname(dirname(shared!)), `private-${process.pid}`);
  const info = await startControlPlane({ dir, node: false, log: () => undefined });
  cached = info;
  return info;
}

export async function stopPrivateControlPlane(): Promise<void> {
  const { stopControlPlane } = await import('./cluster/control-plane.ts');
  const { readClusterInfo } = await import('./cluster/cluster-info.ts');
  // Re-read: a test may have restarted a component (test/cluster/apiserver-restart.ts), with a new PID.
  if (cached !== undefined && cached.node === undefined) await stopControlPlane((await readClusterInfo(cached.dir)) ?? cached);
}

export function kubeconfigPath(user: UserName = 'admin'): string {
  return testCluster().kubeconfigs[user];
}

export function kubeConfig(user: UserName = 'admin'): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath(user));
  return kc;
}

/** Any Kubernetes object, with its kind-specific fields (spec, data, rules, ...). */

export interface ApplyOptions {
  readonly fieldManager?: string;
  readonly user?: UserName;
}

/**
 * Server-side apply of every document (YAML text, possibly multi-document, or objects), in order.
 * Raw JSON, not client-node's typed serializer, which drops CRD schema keys such as `default`.
 */
export async function applyYaml(input: string | readonly object[], options: ApplyOptions = {}): Promise<KubeObject[]> {
  const objects = typeof input === 'string' ? parseYaml(input) : input;
  return await applyAll(kubeconfigPath(options.user), objects, options.fieldManager ?? DEFAULT_FIELD_MANAGER);
}

export function parseYaml(text: string): KubernetesObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`Invalid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS() as KubernetesObject | null;
    })
    .filter((obj): obj is KubernetesObject => obj !== null);
}

export interface WaitOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  /** Named in the timeout error. */
  readonly what?: string;
}

/**
 * Polls until `probe` returns a value other than undefined/false/null and returns it. Errors thrown
 * by the probe count as "not yet"; the last one is reported on timeout.
 */
export async function waitFor<T>(probe: () => Promise<T | undefined | null | false>, options: WaitOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const cause = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new Error(`Timed out after ${options.timeoutMs ?? 30_000} ms waiting for ${options.what ?? 'a condition'}${cause}`);
    }
    await sleep(options.intervalMs ?? 200);
  }
}

export interface DeleteOptions {
  readonly user?: UserName;
  readonly timeoutMs?: number;
  /** Default Foreground: the object disappears only after its dependents are gone. */
  readonly propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
}

/** Deletes and waits until every object is gone (not found). */
export async function deleteAndWait(objects: KubernetesObject | readonly KubernetesObject[], options: DeleteOptions = {}): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kubeConfig(options.user));
  const list = Array.isArray(objects) ? objects : [objects as KubernetesObject];
  for (const obj of list) {
    const policy = options.propagationPolicy ?? 'Foreground';
    await api.delete(obj, undefined, undefined, undefined, undefined, policy).catch(ignoreNotFound);
  }
  for (const obj of list) {
    await waitFor(async () => await exists(api, obj).then((found) => !found), {
      timeoutMs: options.timeoutMs ?? 60_000,
      what: `${obj.kind} ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''} to be deleted`,
    });
  }
}

/** True while the object exists; false once the API answers 404. */
export async function exists(api: KubernetesObjectApi, obj: KubernetesObject): Promise<boolean> {
  try {
    await api.read({ apiVersion: obj.apiVersion!, kind: obj.kind!, metadata: { name: obj.metadata!.name!, namespace: obj.metadata?.namespace } });
    return true;
  } catch (error) {
    if (isStatus(error, 404)) return false;
    throw error;
  }
}

/** A fresh namespace with a unique name (`<prefix>-<random>`), so tests never see each other's objects. */
export async function createNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await applyYaml([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }]);
  return name;
}

/** kubectl of the server's version with the kubeconfig of `user` (default admin) or of an explicit file. */
export async function kubectl(
  args: readonly string[],
  options: { readonly user?: UserName; readonly kubeconfig?: string; readonly input?: string } = {},
): Promise<ProcessResult> {
  const kubeconfig = options.kubeconfig ?? kubeconfigPath(options.user);
  return await runKubectl(args, kubeconfig, options.input === undefined ? {} : { input: options.input });
}

/** client-node 1.4 throws ApiException with the HTTP status in `code`. */
export function isStatus(error: unknown, status: number): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === status;
}

function ignoreNotFound(error: unknown): void {
  if (!isStatus(error, 404)) throw error;
}
