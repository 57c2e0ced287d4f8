// `doctor --pod`: from outside, add the ephemeral doctor container to a running Pod, wait for it to
// finish, and read its report from its log. Each API step's failure becomes a PodDoctorError whose
// message names the Pod, the container and, for a 403, the missing right (pod-errors.ts).
import type { V1Pod } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { isApiError, type KubeClient } from '../../kube/client.ts';
import { ephemeralDoctor, type EphemeralDoctorInput } from './ephemeral-container.ts';
import { ephemeralState, podNotRunning } from './ephemeral-state.ts';
import { explainPodError, type PodStep } from './pod-errors.ts';
import { logTail, reportFromLogs, type LoggedReport } from './report-from-logs.ts';

export class PodDoctorError extends Error {
  readonly code = 'PodDoctorError';
  override readonly name = 'PodDoctorError';
}

export interface PodTarget {
  readonly namespace: string;
  readonly pod: string;
  readonly container?: string;
}

export interface PodRunOptions extends PodTarget {
  readonly image: string;
  readonly name: string;
  readonly doctorArgs: readonly string[];
  readonly timeoutMs: number;
  /** Between two looks at the Pod's status. @default 1000 */
  readonly pollMs?: number;
  /** Progress and notes, for stderr. */
  readonly say: (line: string) => void;
}

export interface PodRun {
  readonly report: Extract<LoggedReport, { ok: true }>;
  readonly container: string;
  readonly target: string;
}

export async function runDoctorInPod(client: KubeClient, options: PodRunOptions): Promise<PodRun> {
  const { namespace, pod: podName, name, image } = options;
  const pod = await step(options, 'read-pod', async () => await client.request<V1Pod>('GET', podPath(options)));
  const input: EphemeralDoctorInput = { pod, image, name, doctorArgs: options.doctorArgs, ...(options.container !== undefined ? { container: options.container } : {}) };
  const built = ephemeralDoctor(input);
  if (!built.ok) throw new PodDoctorError(built.problem);
  const notRunning = podNotRunning(pod);
  if (notRunning !== undefined) throw new PodDoctorError(`Pod ${namespace}/${podName} ${notRunning}`);
  for (const note of built.notes) options.say(`note: ${note}`);
  await addEphemeralContainer(client, options, built.container);
  options.say(`Added ephemeral container ${name} (image ${image}) to Pod ${namespace}/${podName}, targeting container ${built.target}; waiting up to ${Math.round(options.timeoutMs / 1000)} s for it to finish`);
  const finished = await waitForTermination(client, options);
  const log = await step(options, 'read-logs', async () => await client.request<unknown>('GET', `${podPath(options)}/log`, { query: { container: name } }));
  // Logs come as text/plain (an empty log: no body at all); an object would mean a server that typed them JSON.
  const text = typeof log === 'string' ? log : log === undefined ? '' : `${JSON.stringify(log, null, 2)}\n`;
  const report = reportFromLogs(text);
  if (!report.ok) throw new PodDoctorError(noReport(options, finished, text, report.problem));
  return { report, container: name, target: built.target };
}

/** A strategic merge patch of the ephemeralcontainers subresource, as `kubectl debug` sends it (merged by name). */
export async function addEphemeralContainer(client: KubeClient, target: PodTarget, container: object): Promise<void> {
  await step(target, 'add-container', async () =>
    await client.request('PATCH', `${podPath(target)}/ephemeralcontainers`, { body: { spec: { ephemeralContainers: [container] } }, contentType: 'application/strategic-merge-patch+json' }),
  );
}

type Terminated = Extract<ReturnType<typeof ephemeralState>, { phase: 'terminated' }>;

/** Polls the Pod until the container terminated; a stuck container, a finished Pod or the deadline ends it with a PodDoctorError. */
export async function waitForTermination(client: KubeClient, options: PodTarget & { readonly name: string; readonly image?: string; readonly timeoutMs: number; readonly pollMs?: number }): Promise<Terminated> {
  const deadline = performance.now() + options.timeoutMs;
  let last = 'not started yet';
  for (;;) {
    const pod = await step(options, 'read-pod', async () => await client.request<V1Pod>('GET', podPath(options)));
    const state = ephemeralState(pod, options.name);
    const where = `ephemeral container ${options.name} in Pod ${options.namespace}/${options.pod}`;
    switch (state.phase) {
      case 'terminated':
        return state;
      case 'stuck':
        throw new PodDoctorError(`${where} cannot start: ${state.reason}${state.message ? `: ${state.message}` : ''}${stuckHint(state.reason, options.image)}`);
      case 'pod-gone':
        throw new PodDoctorError(`Pod ${options.namespace}/${options.pod} ${state.why} before ${options.name} finished`);
      case 'running':
        last = 'still running';
        break;
      case 'starting':
        last = state.reason ? `waiting (${state.reason})` : 'not started yet';
        break;
    }
    if (performance.now() >= deadline) {
      throw new PodDoctorError(`timed out after ${Math.round(options.timeoutMs / 1000)} s: ${where} is ${last} (kubectl describe pod ${options.pod} -n ${options.namespace} shows the kubelet's events; --timeout waits longer)`);
    }
    await sleep(Math.min(options.pollMs ?? 1000, Math.max(0, deadline - performance.now())));
  }
}

function stuckHint(reason: string, image: string | undefined): string {
  if (/Image|InvalidImageName/.test(reason)) return `; the node cannot get image ${image ?? '(the --image)'}: pass --image with the operator image a node can pull (the one the operator's Deployment runs)`;
  return '';
}

function noReport(options: PodRunOptions, finished: Terminated, log: string, problem: string): string {
  const how = `exited with code ${finished.exitCode}${finished.reason ? ` (${finished.reason})` : ''}`;
  const said = logTail(log) || finished.message.trim() || '(nothing)';
  const hint =
    finished.reason === 'StartError' || finished.exitCode === 127 || finished.exitCode === 128
      ? `; does image ${options.image} hold the apiaccess CLI at /usr/local/bin/apiaccess? pass --image with the operator image`
      : finished.exitCode === 2
        ? `; the doctor in image ${options.image} refused the flags (older than this CLI?)`
        : '';
  return `the doctor in ephemeral container ${options.name} of Pod ${options.namespace}/${options.pod} ${how} and ${problem}${hint}; it printed:\n${said}`;
}

async function step<T>(target: PodTarget, which: PodStep, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!isApiError(error)) throw error;
    throw new PodDoctorError(explainPodError(which, error, target.namespace, target.pod), { cause: error });
  }
}

function podPath(target: PodTarget): string {
  return `/api/v1/namespaces/${encodeURIComponent(target.namespace)}/pods/${encodeURIComponent(target.pod)}`;
}
