// Checks that ask the API server about the caller, with the same client configuration as
// `apiaccess run`: who am I (SelfSubjectReview) and what may I do here (SelfSubjectRulesReview).
// Through the Proxy-mode sidecar both go through it as usual (it always lets them pass); its own
// failures (503: it cannot reach the API server) are told apart from the API server's answers.
import { resolveClientConfig } from '../config/client-config.ts';
import { isApiError, KubeClient, type ApiError } from '../kube/client.ts';
import { fail, pass, warn, type Outcome } from './chain.ts';
import { chooseNamespace, type DoctorContext } from './context.ts';
import { describeCredential } from './local-checks.ts';
import { isProxyRefusalMessage } from './proxy-refusal.ts';
import { sidecarLogsHint } from './proxy-route.ts';

interface SelfSubjectReview {
  status?: { userInfo?: { username?: string; groups?: string[] } };
}

interface ResourceRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
}

interface NonResourceRule {
  verbs: string[];
  nonResourceURLs?: string[];
}

interface SelfSubjectRulesReview {
  status?: { resourceRules?: ResourceRule[]; nonResourceRules?: NonResourceRule[]; incomplete?: boolean; evaluationError?: string };
}

// Every authenticated user may create these reviews (system:basic-user): not worth listing as a permission.
const SELF_REVIEWS = new Set(['selfsubjectaccessreviews', 'selfsubjectrulesreviews', 'selfsubjectreviews']);
const SHOWN_RULES = 6;

export async function checkIdentity(context: DoctorContext): Promise<Outcome> {
  const { options } = context;
  let client: KubeClient;
  try {
    const config = resolveClientConfig(options.kubeconfig === undefined ? {} : { kubeconfig: options.kubeconfig }, options.environment);
    client = KubeClient.fromClientConfig(config, { userAgent: 'apiaccess-doctor' });
  } catch (error) {
    return fail(`cannot build the API client: ${message(error)}`, 'see config-source; this is the configuration `apiaccess run` would use');
  }
  context.client = client;
  const credential = credentialText(context);
  try {
    const review = await client.request<SelfSubjectReview>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      timeoutMs: options.requestTimeoutMs,
    });
    const username = review?.status?.userInfo?.username ?? '';
    const groups = review?.status?.userInfo?.groups ?? [];
    context.identity = { username, groups };
    return pass(`${username} (groups: ${groups.join(', ') || 'none'}), authenticated by ${credential}`, { username, groups });
  } catch (error) {
    if (!isApiError(error)) throw error;
    const proxyFailure = context.proxy !== undefined ? proxyProblem(context, error, 'SelfSubjectReview') : undefined;
    if (proxyFailure !== undefined) return proxyFailure;
    if (error.status === 401) {
      return fail(`the server rejected the credential (401 Unauthorized): ${credential}`, unauthorizedRemedy(context));
    }
    if (error.status === 403) {
      return fail(
        `the server treats these requests as anonymous (403 Forbidden on SelfSubjectReview): ${credential}`,
        context.proxy !== undefined
          ? `the sidecar sent no usable token (its token file unreadable?): \`${sidecarLogsHint(context.options.environment.env, chooseNamespace(context).name)}\``
          : 'give the client a credential: a ServiceAccount token (in-cluster or tokenFile) or a client certificate',
      );
    }
    if (error.status === 404) {
      return warn('the server does not serve SelfSubjectReview (authentication.k8s.io/v1 needs Kubernetes 1.28+): identity unknown', 'upgrade the cluster to see who you are; the checks below still work');
    }
    return fail(`SelfSubjectReview failed: ${error.message}`, 'see tcp-connect and tls-handshake; retry, the API server may be overloaded');
  }
}

export async function checkPermissions(context: DoctorContext): Promise<Outcome> {
  const namespace = chooseNamespace(context);
  let review: SelfSubjectRulesReview;
  try {
    review = await context.client!.request<SelfSubjectRulesReview>('POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', {
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace: namespace.name } },
      timeoutMs: context.options.requestTimeoutMs,
    });
  } catch (error) {
    const proxyFailure = isApiError(error) && context.proxy !== undefined ? proxyProblem(context, error, 'SelfSubjectRulesReview') : undefined;
    if (proxyFailure !== undefined) return proxyFailure;
    throw error;
  }
  const status = review?.status ?? {};
  const rules = (status.resourceRules ?? []).filter((r) => !(r.resources ?? []).every((resource) => SELF_REVIEWS.has(resource)));
  const where = `namespace ${namespace.name} (${namespace.from})`;
  const details = { namespace: namespace.name, namespaceFrom: namespace.from, resourceRules: status.resourceRules ?? [], nonResourceRules: status.nonResourceRules ?? [], incomplete: status.incomplete === true };
  const who = context.identity?.username || 'this identity';
  if (rules.length === 0) {
    return warn(`${where}: no permissions beyond the self-review APIs every user has`, `grant ${who} a Role and RoleBinding in ${namespace.name} (or bind the workload with an ApiAccessProfile), or pass --namespace`, details);
  }
  const shown = rules.slice(0, SHOWN_RULES).map(describeRule).join('; ');
  const more = rules.length > SHOWN_RULES ? `; +${rules.length - SHOWN_RULES} more (--json lists all)` : '';
  if (status.incomplete) {
    return warn(`${where}: ${shown}${more}; the list is incomplete: ${status.evaluationError ?? 'an authorizer cannot enumerate rules'}`, 'use --can VERB RESOURCE for exact answers', details);
  }
  return pass(`${where}: ${shown}${more}`, details);
}

function describeRule(rule: ResourceRule): string {
  const groups = rule.apiGroups ?? [''];
  const resources = (rule.resources ?? []).flatMap((resource) => groups.map((group) => (group === '' ? resource : `${resource}.${group}`)));
  const names = rule.resourceNames?.length ? ` [${rule.resourceNames.join(', ')}]` : '';
  return `${resources.join(', ')}${names}: ${rule.verbs.join(', ')}`;
}

/**
 * What went wrong in the sidecar rather than at the API server: it cannot reach the server (503),
 * or it refused a request it always lets through (an older or misconfigured proxy). Undefined: the
 * API server answered, and the caller explains that.
 */
export function proxyProblem(context: DoctorContext, error: ApiError, what: string): Outcome | undefined {
  const logs = `\`${sidecarLogsHint(context.options.environment.env, chooseNamespace(context).name)}\``;
  if (error.status === 503) {
    return fail(
      `${what}: the proxy sidecar cannot reach the API server (HTTP 503): ${stripMethod(error.message)}`,
      `${logs}; check the ApiAccessProfile's spec.kubeconfig.server (the URL the proxy forwards to) and NetworkPolicy egress from the Pod to the API server`,
      { status: 503, proxy: context.proxy?.url },
    );
  }
  if (error.status === 403 && isProxyRefusalMessage(error.message)) {
    return fail(`${what}: refused by the proxy sidecar itself, which always allows it: ${stripMethod(error.message)}`, `the sidecar is older than this doctor or misconfigured: ${logs}; re-apply the operator's install so both come from one image`, { status: 403, proxy: context.proxy?.url });
  }
  return undefined;
}

/** How the requests authenticate, for summaries: through the proxy, the sidecar's token. */
export function credentialText(context: DoctorContext): string {
  if (context.proxy !== undefined) return `the proxy sidecar's ServiceAccount token (through ${context.proxy.url})`;
  return describeCredential(context.connection!.credential);
}

function unauthorizedRemedy(context: DoctorContext): string {
  if (context.proxy !== undefined) {
    return `the API server rejects the sidecar's token (expired, or its Pod or ServiceAccount was re-created): \`${sidecarLogsHint(context.options.environment.env, chooseNamespace(context).name)}\`, then restart the Pod`;
  }
  const credential = context.connection!.credential;
  if (credential.kind === 'client-certificate') return 'the client certificate is not signed by the cluster\'s client CA, or has expired: issue a new one';
  if (credential.kind === 'token-file' || credential.kind === 'token') {
    return 'the token is expired, revoked (its Pod, Secret or ServiceAccount was deleted or re-created), for another cluster or audience: get a fresh one (restart the Pod; kubectl create token SERVICEACCOUNT)';
  }
  return 'the credential is not accepted: refresh it (kubectl with the same kubeconfig shows the same error)';
}

/** ApiError messages start with "POST /path: ". */
function stripMethod(text: string): string {
  return text.replace(/^[A-Z]+ \S+: /, '');
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
