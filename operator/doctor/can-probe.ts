// In Proxy mode `--can` also makes the real request through the sidecar, because RBAC's answer
// (SelfSubjectAccessReview) is not what the proxy enforces: it forwards only what the profile's
// permissions allow. Only read verbs are tried, and each as cheaply as the API allows: list with
// limit=1, a watch that is dropped once its headers arrived, a get of a name that does not exist
// (authorization comes before the lookup, so 404 means "allowed").
import type { KubeClient } from '../kube/client.ts';
import type { AccessQuery } from './can.ts';

/** The object name a `get` probe asks for: an answer 404 proves the request was authorized. */
export const GET_PROBE_NAME = 'apiaccess-doctor-probe-no-such-object';

export interface ResourceLocation {
  /** `/api/v1` or `/apis/<group>/<version>`. */
  readonly basePath: string;
  readonly namespaced: boolean;
}

export type Located = { readonly ok: true; readonly location: ResourceLocation } | { readonly ok: false; readonly problem: string };

export type ProbePlan =
  | { readonly tried: true; readonly path: string; readonly query: Readonly<Record<string, string>>; readonly headersOnly: boolean; readonly authorizedOn404: boolean }
  | { readonly tried: false; readonly why: string };

const READ_VERBS = new Set(['get', 'list', 'watch']);

/** Whether a query gets a real request at all, before any discovery. */
export function probeSkipReason(query: AccessQuery): string | undefined {
  if (!READ_VERBS.has(query.verb)) return `not tried through the proxy: doctor sends only read requests (get, list, watch), never ${query.verb}`;
  if (query.resource === '*') return 'not tried through the proxy: "*" is not one resource';
  if (query.subresource !== undefined && query.verb !== 'get') return `not tried through the proxy: a subresource cannot be ${query.verb === 'list' ? 'listed' : 'watched'}`;
  return undefined;
}

/** The request that exercises exactly this verb on this resource in `namespace`. */
export function planProbe(query: AccessQuery, location: ResourceLocation, namespace: string): ProbePlan {
  const skip = probeSkipReason(query);
  if (skip !== undefined) return { tried: false, why: skip };
  const collection = `${location.basePath}${location.namespaced ? `/namespaces/${encodeURIComponent(namespace)}` : ''}/${query.resource}`;
  switch (query.verb) {
    case 'list':
      return { tried: true, path: collection, query: { limit: '1' }, headersOnly: false, authorizedOn404: false };
    case 'watch':
      return { tried: true, path: collection, query: { watch: 'true', timeoutSeconds: '1' }, headersOnly: true, authorizedOn404: false };
    default:
      return { tried: true, path: `${collection}/${GET_PROBE_NAME}${query.subresource ? `/${query.subresource}` : ''}`, query: {}, headersOnly: false, authorizedOn404: true };
  }
}

interface GroupDocument {
  preferredVersion?: { groupVersion?: string };
  versions?: Array<{ groupVersion?: string }>;
}

interface ResourceList {
  resources?: Array<{ name: string; namespaced?: boolean }>;
}

/** Where the server serves the resource (discovery, which the proxy always lets through); the preferred version first. */
export async function locateResource(client: KubeClient, query: AccessQuery, timeoutMs: number): Promise<Located> {
  let versions: string[];
  if (query.group === '') {
    versions = ['v1'];
  } else {
    let group: GroupDocument;
    try {
      group = await client.request<GroupDocument>('GET', `/apis/${query.group}`, { timeoutMs });
    } catch (error) {
      return { ok: false, problem: `discovery of API group ${query.group} failed: ${(error as Error).message}` };
    }
    const named = [group.preferredVersion?.groupVersion, ...(group.versions ?? []).map((v) => v.groupVersion)].filter((v): v is string => typeof v === 'string');
    versions = [...new Set(named)].map((gv) => gv.slice(gv.indexOf('/') + 1));
  }
  const wanted = query.subresource ? `${query.resource}/${query.subresource}` : query.resource;
  for (const version of versions) {
    const basePath = query.group === '' ? `/api/${version}` : `/apis/${query.group}/${version}`;
    let list: ResourceList;
    try {
      list = await client.request<ResourceList>('GET', basePath, { timeoutMs });
    } catch (error) {
      return { ok: false, problem: `discovery of ${basePath} failed: ${(error as Error).message}` };
    }
    const found = list.resources?.find((r) => r.name === wanted);
    if (found !== undefined) return { ok: true, location: { basePath, namespaced: found.namespaced === true } };
  }
  return { ok: false, problem: `the server does not serve ${wanted} in API group "${query.group}" (discovery)` };
}
