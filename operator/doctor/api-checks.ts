// Checks that ask the API server about the caller, with the same client configuration as
// `apiaccess run`: who am I (SelfSubjectReview), what may I do here (SelfSubjectRulesReview), may I
// do this (SelfSubjectAccessReview, one per --can).
import { resolveClientConfig } from '../config/client-config.ts';
import { isApiError, KubeClient } from '../kube/client.ts';
import { describeTarget, type AccessQuery } from './can.ts';
import { fail, pass, warn, type Outcome } from './chain.ts';
import { chooseNamespace, type DoctorContext } from './context.ts';
import { describeCredential } from './local-checks.ts';

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

interface SelfSubjectAccessReview {
  status?: { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string };
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
  const credential = describeCredential(context.connection!.credential);
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
    if (error.status === 401) {
      return fail(`the server rejected the credential (401 Unauthorized): ${credential}`, unauthorizedRemedy(context));
    }
    if (error.status === 403) {
      return fail(
        `the server treats these requests as anonymous (403 Forbidden on SelfSubjectReview): ${credential}`,
        'give the client a credential: a ServiceAccount token (in-cluster or tokenFile) or a client certificate',
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
  const review = await context.client!.request<SelfSubjectRulesReview>('POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', {
    body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace: namespace.name } },
    timeoutMs: context.options.requestTimeoutMs,
  });
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

/** One check per --can; its name is `can-<verb>-<target>`. */
export function checkCan(query: AccessQuery): (context: DoctorContext) => Promise<Outcome> {
  return async (context) => {
    const namespace = chooseNamespace(context);
    const review = await context.client!.request<SelfSubjectAccessReview>('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: { namespace: namespace.name, verb: query.verb, group: query.group, resource: query.resource, ...(query.subresource ? { subresource: query.subresource } : {}) } },
      },
      timeoutMs: context.options.requestTimeoutMs,
    });
    const status = review?.status ?? {};
    const action = `${query.verb} ${describeTarget(query)} in namespace ${namespace.name}`;
    const details = { verb: query.verb, group: query.group, resource: query.resource, subresource: query.subresource, namespace: namespace.name, allowed: status.allowed === true, reason: status.reason };
    if (status.allowed === true) return pass(`allowed: ${action}${status.reason ? ` (${status.reason})` : ''}`, details);
    const who = context.identity?.username || 'this identity';
    const because = status.reason || status.evaluationError || 'no RBAC rule allows it';
    const resource = `${query.resource}${query.subresource ? `/${query.subresource}` : ''}`;
    return fail(
      `denied: ${who} may not ${action}: ${because}`,
      `grant it: a Role rule {apiGroups: ["${query.group}"], resources: ["${resource}"], verbs: ["${query.verb}"]} bound to ${who} in ${namespace.name}, or add it to the ApiAccessProfile's permissions`,
      details,
    );
  };
}

function describeRule(rule: ResourceRule): string {
  const groups = rule.apiGroups ?? [''];
  const resources = (rule.resources ?? []).flatMap((resource) => groups.map((group) => (group === '' ? resource : `${resource}.${group}`)));
  const names = rule.resourceNames?.length ? ` [${rule.resourceNames.join(', ')}]` : '';
  return `${resources.join(', ')}${names}: ${rule.verbs.join(', ')}`;
}

function unauthorizedRemedy(context: DoctorContext): string {
  const credential = context.connection!.credential;
  if (credential.kind === 'client-certificate') return 'the client certificate is not signed by the cluster\'s client CA, or has expired: issue a new one';
  if (credential.kind === 'token-file' || credential.kind === 'token') {
    return 'the token is expired, revoked (its Pod, Secret or ServiceAccount was deleted or re-created), for another cluster or audience: get a fresh one (restart the Pod; kubectl create token SERVICEACCOUNT)';
  }
  return 'the credential is not accepted: refresh it (kubectl with the same kubeconfig shows the same error)';
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
