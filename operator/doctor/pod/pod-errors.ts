// What `doctor --pod` says when a request of its own fails: each step needs one right of the
// kubeconfig it runs with (get pods, patch pods/ephemeralcontainers, get pods/log, as `kubectl
// debug` does), and a 403 names the missing one as a Role rule. Pure: the step and the API's answer.

export type PodStep = 'read-pod' | 'add-container' | 'read-logs';

export interface StepError {
  readonly status: number;
  readonly reason: string;
  readonly message: string;
}

const RIGHT: Readonly<Record<PodStep, { verb: string; resource: string }>> = {
  'read-pod': { verb: 'get', resource: 'pods' },
  'add-container': { verb: 'patch', resource: 'pods/ephemeralcontainers' },
  'read-logs': { verb: 'get', resource: 'pods/log' },
};

const ALL_RIGHTS = 'doctor --pod needs get on pods, patch on pods/ephemeralcontainers and get on pods/log';

export function explainPodError(step: PodStep, error: StepError, namespace: string, pod: string): string {
  const where = `Pod ${namespace}/${pod}`;
  const { verb, resource } = RIGHT[step];
  const said = stripRequest(error.message);
  if (error.status === 404 && step === 'read-pod') return `${where} not found (is -n/--namespace right? it defaults to the kubeconfig context's namespace)`;
  if (error.status === 404 && step === 'add-container') return `${where}: the server does not serve pods/ephemeralcontainers (Kubernetes 1.25+ has it), or the Pod was deleted: ${said}`;
  if (error.status === 403 && isRbacDenial(said, verb, resource)) {
    return `may not ${verb} ${resource} in namespace ${namespace}: ${said}; grant a Role rule {apiGroups: [""], resources: ["${resource}"], verbs: ["${verb}"]} in ${namespace} (${ALL_RIGHTS})`;
  }
  if (error.status === 403 && step === 'add-container') return `admission refused the ephemeral container in ${where}: ${said}`;
  if (error.status === 401) return `the API server rejected this kubeconfig's credential (401): ${said}; \`apiaccess doctor\` without --pod shows why`;
  if (error.status === 422 && step === 'add-container') return `the API server rejected the ephemeral container for ${where}: ${said}`;
  if (error.status === 0) return `cannot reach the API server (${error.reason}): ${said}`;
  return `${verb} ${resource} of ${where} failed (${error.status} ${error.reason}): ${said}`;
}

/** An RBAC denial reads `User "u" cannot patch resource "pods/ephemeralcontainers" ...` (checked against 1.37); admission's 403s read otherwise. */
function isRbacDenial(message: string, verb: string, resource: string): boolean {
  return message.includes(`cannot ${verb} resource "${resource}"`);
}

/** ApiError messages start with "PATCH /path: ". */
function stripRequest(message: string): string {
  return message.replace(/^[A-Z]+ \S+: /, '');
}
