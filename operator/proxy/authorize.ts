// The proxy's local authorization: request attributes against the profile's rules, with the API
// server's RBAC PolicyRule semantics (k8s.io/kubernetes/pkg/apis/rbac/v1/evaluation_helpers.go) and
// the profile's scope, plus what every authenticated user holds anyway. A refusal carries the exact
// Status body and header the proxy answers with (contract: /work/proxy-contract.md). Pure: no I/O.
import type { PolicyRule } from '../../crds/apiaccessprofile.ts';
import type { NonResourceAttributes, RequestAttributes, ResourceAttributes } from './request-attributes.ts';
import type { ProxyRulesFile } from './rules-file.ts';
import { failureStatus, type KubeStatus } from './status.ts';

/** The header naming what was refused, in a form `apiaccess doctor` parses. */
export const DENIED_HEADER = 'X-Apiaccess-Proxy-Denied';

/** The fields of the rules file that decide, so that callers need not parse the whole file type. */
export type Rules = Pick<ProxyRulesFile, 'profile' | 'user' | 'scope' | 'namespace' | 'rules'>;

export type Decision =
  | { readonly allowed: true; readonly by: 'AlwaysAllowed' | 'Profile' }
  | { readonly allowed: false; readonly status: KubeStatus; readonly header: string };

/**
 * What system:discovery, system:basic-user and system:public-info-viewer give every authenticated
 * user: the API server would allow these whatever the profile says, so refusing them would only
 * break clients (discovery is the first thing every client does). healthz/livez/readyz sub-paths
 * (single checks) are included as the contract says.
 */
export const ALWAYS_ALLOWED: readonly PolicyRule[] = [
  {
    verbs: ['get'],
    nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/version', '/version/', '/openapi', '/openapi/*', '/healthz', '/healthz/*', '/livez', '/livez/*', '/readyz', '/readyz/*'],
  },
  { verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'] },
  { verbs: ['create'], apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'] },
];

export function authorize(attributes: RequestAttributes, rules: Rules): Decision {
  if (ALWAYS_ALLOWED.some((rule) => ruleAllows(rule, attributes))) return { allowed: true, by: 'AlwaysAllowed' };
  if (inScope(attributes, rules) && rules.rules.some((rule) => ruleAllows(rule, attributes))) return { allowed: true, by: 'Profile' };
  return refusal(attributes, rules);
}

/**
 * Namespace scope is a Role bound by a RoleBinding: it applies to namespaced requests in its
 * namespace only, never to cluster-scoped resources, other namespaces or non-resource URLs.
 */
function inScope(attributes: RequestAttributes, rules: Rules): boolean {
  if (rules.scope === 'Cluster') return true;
  return attributes.kind === 'resource' && attributes.namespace === rules.namespace;
}

export function ruleAllows(rule: PolicyRule, attributes: RequestAttributes): boolean {
  if (!matches(rule.verbs, attributes.verb)) return false;
  return attributes.kind === 'resource' ? resourceRuleAllows(rule, attributes) : nonResourceRuleAllows(rule, attributes);
}

function resourceRuleAllows(rule: PolicyRule, a: ResourceAttributes): boolean {
  if (!matches(rule.apiGroups ?? [], a.apiGroup)) return false;
  if (!resourceMatches(rule.resources ?? [], a.resource, a.subresource)) return false;
  const names = rule.resourceNames ?? [];
  return names.length === 0 || names.includes(a.name);
}

/** `pods/log` names a subresource; `*` every resource and subresource; `*\/scale` one subresource of every resource. */
function resourceMatches(ruleResources: readonly string[], resource: string, subresource: string): boolean {
  const combined = subresource === '' ? resource : `${resource}/${subresource}`;
  return ruleResources.some((r) => r === '*' || r === combined || (subresource !== '' && r === `*/${subresource}`));
}

/** `/logs/*` matches every path under `/logs/`; `*` every path. */
function nonResourceRuleAllows(rule: PolicyRule, a: NonResourceAttributes): boolean {
  return (rule.nonResourceURLs ?? []).some((url) => url === '*' || url === a.path || (url.endsWith('*') && a.path.startsWith(url.replace(/\*+$/, ''))));
}

function matches(values: readonly string[], requested: string): boolean {
  return values.some((v) => v === '*' || v === requested);
}

function refusal(attributes: RequestAttributes, rules: Rules): Decision {
  const reason = `not allowed by ApiAccessProfile ${rules.profile} (apiaccess proxy)`;
  const denied = `User ${quote(rules.user)} cannot ${attributes.verb}`;
  if (attributes.kind === 'nonResource') {
    return {
      allowed: false,
      status: failureStatus(403, 'Forbidden', `forbidden: ${denied} path ${quote(attributes.path)}: ${reason}`, {}),
      header: headerValue([['verb', attributes.verb], ['path', attributes.path]]),
    };
  }
  const a = attributes;
  const resource = a.subresource === '' ? a.resource : `${a.resource}/${a.subresource}`;
  const where = a.namespace === '' ? 'at the cluster scope' : `in the namespace ${quote(a.namespace)}`;
  const qualified = a.apiGroup === '' ? a.resource : `${a.resource}.${a.apiGroup}`;
  const subject = a.name === '' ? `${qualified} is forbidden` : `${qualified} ${quote(a.name)} is forbidden`;
  const message = `${subject}: ${denied} resource ${quote(resource)} in API group ${quote(a.apiGroup)} ${where}: ${reason}`;
  return {
    allowed: false,
    status: failureStatus(403, 'Forbidden', message, { name: a.name, group: a.apiGroup, kind: a.resource }),
    header: headerValue([
      ['verb', a.verb],
      ['group', a.apiGroup],
      ['resource', a.resource],
      ['subresource', a.subresource],
      ['namespace', a.namespace],
      ['name', a.name],
    ]),
  };
}

/** Go's %q for the strings that occur here (names, paths): double quotes with " and \ escaped. */
function quote(value: string): string {
  return JSON.stringify(value);
}

/**
 * `verb=list; group=; resource=pods; ...`. Values are percent-encoded where they hold a character a
 * header cannot carry or that would break the `; ` split (a path may hold anything once decoded).
 */
function headerValue(fields: ReadonlyArray<readonly [string, string]>): string {
  return fields.map(([key, value]) => `${key}=${value.replace(/[^\x21-\x3a\x3c-\x7e]|%/gu, (c) => encodeURIComponent(c))}`).join('; ');
}
