// Where the ephemeral doctor container is, from the Pod's status: not started yet, stuck (an image
// that cannot be pulled, a config error), running, or finished. Pure, so the wait loop only polls.
import type { V1Pod } from '@kubernetes/client-node';

export type EphemeralState =
  | { readonly phase: 'starting'; readonly reason?: string }
  | { readonly phase: 'stuck'; readonly reason: string; readonly message: string }
  | { readonly phase: 'running' }
  | { readonly phase: 'terminated'; readonly exitCode: number; readonly reason: string; readonly message: string }
  | { readonly phase: 'pod-gone'; readonly why: string };

/**
 * Waiting reasons the kubelet will not get past by itself in the time a doctor run is worth (it
 * retries pulls with back-off for the Pod's life): report them at once, with the kubelet's message.
 */
const STUCK = new Set(['ErrImagePull', 'ImagePullBackOff', 'ErrImageNeverPull', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

export function ephemeralState(pod: V1Pod, name: string): EphemeralState {
  if (pod.metadata?.deletionTimestamp) return { phase: 'pod-gone', why: 'is being deleted' };
  const podPhase = pod.status?.phase;
  if (podPhase === 'Succeeded' || podPhase === 'Failed') return { phase: 'pod-gone', why: `finished (${podPhase})` };
  const status = pod.status?.ephemeralContainerStatuses?.find((s) => s.name === name);
  const state = status?.state;
  if (state?.terminated) {
    const t = state.terminated;
    return { phase: 'terminated', exitCode: t.exitCode, reason: t.reason ?? '', message: t.message ?? '' };
  }
  if (state?.running) return { phase: 'running' };
  const waiting = state?.waiting;
  if (waiting?.reason && STUCK.has(waiting.reason)) return { phase: 'stuck', reason: waiting.reason, message: waiting.message ?? '' };
  return { phase: 'starting', ...(waiting?.reason ? { reason: waiting.reason } : {}) };
}

/** Only a running Pod runs an ephemeral container: say why not before adding one that never starts. */
export function podNotRunning(pod: V1Pod): string | undefined {
  const phase = pod.status?.phase ?? 'Unknown';
  if (pod.metadata?.deletionTimestamp) return 'is being deleted';
  if (phase === 'Running') return undefined;
  if (phase === 'Pending') return 'is Pending (not started on a node yet): an ephemeral container runs only in a running Pod';
  return `is ${phase}: an ephemeral container runs only in a running Pod`;
}
