// Real Pods on the local node, for end-to-end tests: find the Pod a controller made from a
// workload's current template and run an unmodified client inside it with `kubectl exec` (the
// kubelet started it with exactly the credentials it mounted).
import type { V1Pod } from '@kubernetes/client-node';
import type { KubeClient, KubeObject } from '../operator/kube/client.ts';
import { runKubectl, type ProcessResult } from './clients.ts';
import { kubeconfigPath, waitFor } from './harness.ts';

const HASH = 'apiaccess.dev/config-hash';
/** A Pod start on the loaded 2-core node: image already imported, so seconds; slack for CI load. */
const POD_START_MS = 120_000;

type Pod = V1Pod & KubeObject;

function isReady(pod: Pod): boolean {
  return pod.metadata.deletionTimestamp === undefined && pod.status?.phase === 'Running' && (pod.status.containerStatuses ?? []).every((c) => c.ready);
}

/**
 * A Running, ready Pod of the workload (matched by `selector`) whose config hash equals the
 * workload template's `hash` (or carries none when `hash` is undefined).
 */
export async function readyPod(admin: KubeClient, namespace: string, selector: string, hash: string | undefined, what = selector, timeoutMs = POD_START_MS): Promise<Pod> {
  return await waitFor(
    async () => {
      const pods = await admin.request<{ items: Pod[] }>('GET', `/api/v1/namespaces/${namespace}/pods`, { query: { labelSelector: selector } });
      return pods.items.find((p) => p.metadata.annotations?.[HASH] === hash && isReady(p));
    },
    { timeoutMs, intervalMs: 500, what: `a ready Pod of ${what} with config-hash ${hash ?? '(none)'}` },
  );
}

/** Runs `command` (argv, or a string for `sh -c`) in a container of a running Pod. */
export async function execInPod(pod: { metadata: { name: string; namespace?: string } }, command: readonly string[] | string, container?: string): Promise<ProcessResult> {
  const argv = typeof command === 'string' ? ['sh', '-c', command] : command;
  const args = ['exec', '-n', pod.metadata.namespace ?? '', pod.metadata.name, ...(container !== undefined ? ['-c', container] : []), '--', ...argv];
  return await runKubectl(args, kubeconfigPath('admin'), { timeoutMs: 120_000 });
}
