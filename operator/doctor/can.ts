// `--can VERB RESOURCE[.GROUP][/SUBRESOURCE]`, as kubectl auth can-i spells resources:
// `pods`, `pods/log`, `deployments.apps`, `ingresses.networking.k8s.io`, `deployments.apps/scale`.

export interface AccessQuery {
  readonly verb: string;
  readonly resource: string;
  /** '' is the core group. */
  readonly group: string;
  readonly subresource?: string;
}

export type ParsedQueries = { readonly ok: true; readonly queries: AccessQuery[] } | { readonly ok: false; readonly problem: string };

const VERB = /^([a-z]+|\*)$/;
const RESOURCE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?|\*)$/;
const GROUP = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * commander hands a repeated variadic option over as one flat list, so `--can get pods --can list
 * deployments.apps` arrives as four words: they are read in pairs, and an odd count is bad usage.
 */
export function parseAccessQueries(words: readonly string[]): ParsedQueries {
  const flat = words.flatMap((w) => w.split(/\s+/)).filter((w) => w !== '');
  if (flat.length % 2 !== 0) {
    return { ok: false, problem: `--can takes two words, VERB RESOURCE[.GROUP] (e.g. --can list pods --can get deployments.apps), got: ${flat.join(' ')}` };
  }
  const queries: AccessQuery[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const parsed = parseAccessQuery(flat[i]!, flat[i + 1]!);
    if (typeof parsed === 'string') return { ok: false, problem: parsed };
    queries.push(parsed);
  }
  return { ok: true, queries };
}

export function parseAccessQuery(verb: string, target: string): AccessQuery | string {
  if (!VERB.test(verb)) return `--can ${verb} ${target}: "${verb}" is not a verb (get, list, watch, create, update, patch, delete, ...)`;
  const [resourceAndGroup = '', subresource, extra] = target.split('/');
  const dot = resourceAndGroup.indexOf('.');
  const resource = dot < 0 ? resourceAndGroup : resourceAndGroup.slice(0, dot);
  const group = dot < 0 ? '' : resourceAndGroup.slice(dot + 1);
  const valid = RESOURCE.test(resource) && (group === '' || GROUP.test(group)) && extra === undefined && (subresource === undefined || RESOURCE.test(subresource));
  if (!valid) return `--can ${verb} ${target}: expected RESOURCE[.GROUP][/SUBRESOURCE] in lower case, e.g. pods, pods/log or deployments.apps`;
  return { verb, resource, group, ...(subresource !== undefined ? { subresource } : {}) };
}

/** `deployments.apps/scale`: the resource as the user wrote it, for names and messages. */
export function describeTarget(query: AccessQuery): string {
  return `${query.resource}${query.group ? `.${query.group}` : ''}${query.subresource ? `/${query.subresource}` : ''}`;
}
