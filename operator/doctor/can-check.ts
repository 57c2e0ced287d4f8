// One check per `--can VERB RESOURCE`: what RBAC says (SelfSubjectAccessReview), and in Proxy mode
// what the sidecar does with the real request (can-probe.ts). The verdict is can-verdict.ts's.
import { isApiError } from '../kube/client.ts';
import { proxyProblem } from './api-checks.ts';
import type { AccessQuery } from './can.ts';
import { locateResource, planProbe, probeSkipReason } from './can-probe.ts';
import { canVerdict, type ProxyAttempt, type RbacAnswer } from './can-verdict.ts';
import type { Outcome } from './chain.ts';
import { chooseNamespace, type DoctorContext } from './context.ts';
import { get } from './http-get.ts';
import { sidecarLogsHint } from './proxy-route.ts';

interface SelfSubjectAccessReview {
  status?: { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string };
}

/** One check per --can; its name is `can-<verb>-<target>`. */
export function checkCan(query: AccessQuery): (context: DoctorContext) => Promise<Outcome> {
  return async (context) => {
    const namespace = chooseNamespace(context).name;
    let review: SelfSubjectAccessReview;
    try {
      review = await context.client!.request<SelfSubjectAccessReview>('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes: { namespace, verb: query.verb, group: query.group, resource: query.resource, ...(query.subresource ? { subresource: query.subresource } : {}) } },
        },
        timeoutMs: context.options.requestTimeoutMs,
      });
    } catch (error) {
      const proxyFailure = isApiError(error) && context.proxy !== undefined ? proxyProblem(context, error, 'SelfSubjectAccessReview') : undefined;
      if (proxyFailure !== undefined) return proxyFailure;
      throw error;
    }
    const status = review?.status ?? {};
    const rbac: RbacAnswer = { allowed: status.allowed === true, ...(status.reason ? { reason: status.reason } : {}), ...(status.evaluationError ? { evaluationError: status.evaluationError } : {}) };
    return canVerdict({
      query,
      namespace,
      who: context.identity?.username || 'this identity',
      rbac,
      proxy: context.proxy === undefined ? { mode: 'direct' } : await throughProxy(context, query, namespace),
      sidecarLogs: sidecarLogsHint(context.options.environment.env, namespace),
    });
  };
}

async function throughProxy(context: DoctorContext, query: AccessQuery, namespace: string): Promise<ProxyAttempt> {
  const skip = probeSkipReason(query);
  if (skip !== undefined) return { mode: 'proxy', tried: false, why: skip };
  const timeoutMs = context.options.requestTimeoutMs;
  const located = await locateResource(context.client!, query, timeoutMs);
  if (!located.ok) return { mode: 'proxy', tried: false, why: `not tried through the proxy: ${located.problem}` };
  const plan = planProbe(query, located.location, namespace);
  if (!plan.tried) return { mode: 'proxy', tried: false, why: plan.why };
  const connection = context.connection!;
  const url = new URL(connection.server);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${plan.path}`;
  for (const [key, value] of Object.entries(plan.query)) url.searchParams.set(key, value);
  const result = await get(url, connection, { timeoutMs, headersOnly: plan.headersOnly });
  return { mode: 'proxy', tried: true, request: `GET ${url.pathname}${url.search}`, authorizedOn404: plan.authorizedOn404, clusterScoped: !located.location.namespaced, result };
}
