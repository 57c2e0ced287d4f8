// The verdict of one `--can VERB RESOURCE`: RBAC's answer (SelfSubjectAccessReview) and, in Proxy
// mode, the answer to the real request through the sidecar. Pure, so each combination is a table
// test; the proxy's refusal is told apart from the API server's, and names the rule to add.
import { describeTarget, type AccessQuery } from './can.ts';
import { fail, pass, warn, type Outcome } from './chain.ts';
import type { GetResult } from './http-get.ts';
import { classifyRefusal, ruleFor, scopeNote, upstreamUnreachable } from './proxy-refusal.ts';

export interface RbacAnswer {
  readonly allowed: boolean;
  readonly reason?: string;
  readonly evaluationError?: string;
}

/** What happened through the proxy: not in Proxy mode, not tried (and why), or the request and its answer. */
export type ProxyAttempt =
  | { readonly mode: 'direct' }
  | { readonly mode: 'proxy'; readonly tried: false; readonly why: string }
  | { readonly mode: 'proxy'; readonly tried: true; readonly request: string; readonly authorizedOn404: boolean; readonly clusterScoped: boolean; readonly result: GetResult };

export interface CanInput {
  readonly query: AccessQuery;
  readonly namespace: string;
  /** The identity's username, or "this identity". */
  readonly who: string;
  readonly rbac: RbacAnswer;
  readonly proxy: ProxyAttempt;
  /** `kubectl logs <pod> -n <ns> -c apiaccess-proxy`. */
  readonly sidecarLogs: string;
}

export function canVerdict(input: CanInput): Outcome {
  const { query, namespace, rbac, proxy } = input;
  // Discovery (Proxy mode) knows a cluster-scoped resource; "in namespace x" would mislead there.
  const clusterScoped = proxy.mode === 'proxy' && proxy.tried && proxy.clusterScoped;
  const action = `${query.verb} ${describeTarget(query)} ${clusterScoped ? 'cluster-wide' : `in namespace ${namespace}`}`;
  const details: Record<string, unknown> = {
    verb: query.verb,
    group: query.group,
    resource: query.resource,
    subresource: query.subresource,
    namespace,
    allowed: rbac.allowed,
    reason: rbac.reason,
    ...(proxy.mode === 'proxy' ? { proxy: proxyDetails(proxy) } : {}),
  };
  const rbacSays = rbac.allowed ? `RBAC allows it${rbac.reason ? ` (${rbac.reason})` : ''}` : `RBAC denies it: ${rbac.reason || rbac.evaluationError || 'no RBAC rule allows it'}`;
  if (proxy.mode === 'direct' || !proxy.tried) {
    const note = proxy.mode === 'proxy' && !proxy.tried ? `; ${proxy.why}` : '';
    if (rbac.allowed) return pass(`allowed: ${action}${rbac.reason ? ` (${rbac.reason})` : ''}${note}`, details);
    return fail(`denied: ${input.who} may not ${action}: ${rbac.reason || rbac.evaluationError || 'no RBAC rule allows it'}${note}`, rbacRemedy(input), details);
  }
  const { request, result } = proxy;
  if ('error' in result) {
    return fail(`${request} through the proxy sidecar failed: ${result.error}; ${rbacSays}`, `is the sidecar running? \`${input.sidecarLogs}\``, details);
  }
  const unreachable = upstreamUnreachable(result);
  if (unreachable !== undefined) {
    return fail(`${request}: the proxy sidecar cannot reach the API server (HTTP 503): ${unreachable}`, `\`${input.sidecarLogs}\`; check the ApiAccessProfile's spec.kubeconfig.server and NetworkPolicy egress to the API server`, details);
  }
  const refusal = classifyRefusal(result);
  if (refusal?.by === 'proxy') {
    const attributes = refusal.attributes ?? { verb: query.verb, group: query.group, resource: query.resource, subresource: query.subresource ?? '', namespace, name: '' };
    const profile = refusal.profile ?? 'the ApiAccessProfile';
    const rbacNote = rbac.allowed ? ' (RBAC alone would allow it: another binding grants it, but the proxy forwards only what the profile allows)' : '';
    return fail(
      `refused by the proxy sidecar: ${action} is not in the permissions of ApiAccessProfile ${profile}${rbacNote}`,
      `add to ${refusal.profile ? `ApiAccessProfile ${refusal.profile}` : 'the ApiAccessProfile'}'s spec.permissions.rules: ${ruleFor(attributes)}${scopeNote(attributes, refusal.profile)}`,
      { ...details, missing: { ...attributes, name: undefined } },
    );
  }
  if (refusal?.by === 'server') {
    const summary = `the proxy let ${request} through, but the API server refused it (${refusal.status} ${refusal.reason}): ${refusal.message}`;
    if (refusal.status === 401) return fail(summary, `the API server rejects the sidecar's token: \`${input.sidecarLogs}\`, then restart the Pod`, details);
    return fail(
      summary,
      `the profile allows it but RBAC does not (yet): the operator renders spec.permissions into a Role or ClusterRole; see the profile's RBACReady condition (kubectl get aap -n ${namespace} -o yaml), and whether every ClusterRole in spec.permissions.clusterRoles exists`,
      details,
    );
  }
  const authorized = (result.status >= 200 && result.status < 300) || (proxy.authorizedOn404 && result.status === 404);
  if (!authorized) {
    return warn(`${request} through the proxy answered HTTP ${result.status}: ${result.body.trim().slice(0, 160)}; ${rbacSays}`, 'neither a refusal nor a success: retry, and see the sidecar\'s logs', details);
  }
  const answered = `${request} through the proxy answered ${result.status}${result.status === 404 ? ' (no such object: the request was authorized)' : ''}`;
  if (!rbac.allowed) {
    return warn(`${answered}, yet ${rbacSays}`, 'the API server\'s authorizers (a webhook?) answer a review differently from a request: trust the request', details);
  }
  return pass(`allowed: ${action}${rbac.reason ? ` (${rbac.reason})` : ''}; ${answered}`, details);
}

function rbacRemedy(input: CanInput): string {
  const { query, namespace, who } = input;
  const rule = ruleFor({ verb: query.verb, group: query.group, resource: query.resource, subresource: query.subresource ?? '' });
  if (input.proxy.mode === 'proxy') return `add to the ApiAccessProfile's spec.permissions.rules: ${rule} (the operator grants it to the ServiceAccount and the proxy forwards it)`;
  return `grant it: a Role rule ${rule} bound to ${who} in ${namespace}, or add it to the ApiAccessProfile's permissions`;
}

function proxyDetails(proxy: Extract<ProxyAttempt, { mode: 'proxy' }>): Record<string, unknown> {
  if (!proxy.tried) return { tried: false, why: proxy.why };
  if ('error' in proxy.result) return { tried: true, request: proxy.request, error: proxy.result.error };
  const refusal = classifyRefusal(proxy.result);
  return { tried: true, request: proxy.request, status: proxy.result.status, ...(refusal ? { refusedBy: refusal.by, message: refusal.message } : {}) };
}
