import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestAttributes, type RequestLine } from './request-attributes.ts';

type Expected = Record<string, string>;

/** Only the fields a case names are compared, so each row says what it is about. */
function picked(line: RequestLine): Expected {
  return requestAttributes(line) as unknown as Expected;
}

const resourceCases: ReadonlyArray<[string, RequestLine, Expected]> = [
  ['a GET of a core collection in a namespace is a list', { method: 'GET', url: '/api/v1/namespaces/team-a/pods' }, { verb: 'list', apiGroup: '', apiVersion: 'v1', namespace: 'team-a', resource: 'pods', name: '' }],
  ['a GET of one object is a get with its name', { method: 'GET', url: '/api/v1/namespaces/team-a/pods/web-1' }, { verb: 'get', namespace: 'team-a', resource: 'pods', name: 'web-1', subresource: '' }],
  ['a GET across all namespaces is a list with no namespace', { method: 'GET', url: '/api/v1/pods?limit=500' }, { verb: 'list', namespace: '', resource: 'pods' }],
  ['a named group puts its name in apiGroup', { method: 'GET', url: '/apis/apps/v1/namespaces/team-a/deployments/web' }, { verb: 'get', apiGroup: 'apps', apiVersion: 'v1', resource: 'deployments', name: 'web' }],
  ['?watch=true makes a list a watch', { method: 'GET', url: '/api/v1/namespaces/team-a/configmaps?watch=true&resourceVersion=10' }, { verb: 'watch', resource: 'configmaps' }],
  ['?watch=1 and a bare ?watch are watches too, as the API server reads a bool', { method: 'GET', url: '/api/v1/namespaces/team-a/configmaps?watch' }, { verb: 'watch' }],
  ['?watch=false stays a list', { method: 'GET', url: '/api/v1/namespaces/team-a/configmaps?watch=false' }, { verb: 'list' }],
  ['the legacy /watch/ path is a watch of the collection', { method: 'GET', url: '/api/v1/watch/namespaces/team-a/pods' }, { verb: 'watch', namespace: 'team-a', resource: 'pods', name: '' }],
  ['the legacy /watch/ path of one object keeps its name', { method: 'GET', url: '/apis/apps/v1/watch/namespaces/team-a/deployments/web' }, { verb: 'watch', apiGroup: 'apps', resource: 'deployments', name: 'web' }],
  ['a list narrowed by fieldSelector=metadata.name is for that name', { method: 'GET', url: '/api/v1/namespaces/team-a/secrets?fieldSelector=metadata.name%3Dtls' }, { verb: 'list', resource: 'secrets', name: 'tls' }],
  ['a watch narrowed by metadata.name== is for that name', { method: 'GET', url: '/api/v1/namespaces/team-a/secrets?watch=1&fieldSelector=metadata.name%3D%3Dtls' }, { verb: 'watch', name: 'tls' }],
  ['a fieldSelector on another field names nothing', { method: 'GET', url: '/api/v1/namespaces/team-a/pods?fieldSelector=spec.nodeName%3Dn1' }, { verb: 'list', name: '' }],
  ['POST is create', { method: 'POST', url: '/api/v1/namespaces/team-a/configmaps' }, { verb: 'create', resource: 'configmaps', name: '' }],
  ['PUT is update', { method: 'PUT', url: '/api/v1/namespaces/team-a/configmaps/c' }, { verb: 'update', name: 'c' }],
  ['PATCH is patch', { method: 'PATCH', url: '/api/v1/namespaces/team-a/configmaps/c' }, { verb: 'patch', name: 'c' }],
  ['DELETE of an object is delete', { method: 'DELETE', url: '/api/v1/namespaces/team-a/configmaps/c' }, { verb: 'delete', name: 'c' }],
  ['DELETE of a collection is deletecollection', { method: 'DELETE', url: '/api/v1/namespaces/team-a/configmaps' }, { verb: 'deletecollection', name: '' }],
  ['a subresource is split from its resource', { method: 'GET', url: '/api/v1/namespaces/team-a/pods/web-1/log?follow=true' }, { verb: 'get', resource: 'pods', name: 'web-1', subresource: 'log' }],
  ['status of a deployment is a subresource', { method: 'PUT', url: '/apis/apps/v1/namespaces/team-a/deployments/web/status' }, { verb: 'update', resource: 'deployments', subresource: 'status' }],
  ['a SPDY exec (POST upgrade) is create on pods/exec', { method: 'POST', url: '/api/v1/namespaces/team-a/pods/web-1/exec?command=sh', upgrade: true }, { verb: 'create', resource: 'pods', subresource: 'exec' }],
  ['a WebSocket exec (GET upgrade) is create on pods/exec too', { method: 'GET', url: '/api/v1/namespaces/team-a/pods/web-1/exec?command=sh', upgrade: true }, { verb: 'create', subresource: 'exec' }],
  ['a WebSocket attach is create on pods/attach', { method: 'GET', url: '/api/v1/namespaces/team-a/pods/web-1/attach', upgrade: true }, { verb: 'create', subresource: 'attach' }],
  ['a WebSocket port-forward is create on pods/portforward', { method: 'GET', url: '/api/v1/namespaces/team-a/pods/web-1/portforward?ports=80', upgrade: true }, { verb: 'create', subresource: 'portforward' }],
  ['a GET of pods/exec without an upgrade stays a get', { method: 'GET', url: '/api/v1/namespaces/team-a/pods/web-1/exec' }, { verb: 'get', subresource: 'exec' }],
  ['an upgraded GET of pods/log stays a get', { method: 'GET', url: '/api/v1/namespaces/team-a/pods/web-1/log', upgrade: true }, { verb: 'get', subresource: 'log' }],
  ['a Namespace object is named by itself and in itself', { method: 'GET', url: '/api/v1/namespaces/team-a' }, { verb: 'get', namespace: 'team-a', resource: 'namespaces', name: 'team-a' }],
  ['the list of namespaces is cluster-scoped', { method: 'GET', url: '/api/v1/namespaces' }, { verb: 'list', namespace: '', resource: 'namespaces' }],
  ['namespaces/<ns>/finalize is a subresource of the Namespace', { method: 'PUT', url: '/api/v1/namespaces/team-a/finalize' }, { verb: 'update', resource: 'namespaces', name: 'team-a', subresource: 'finalize' }],
  ['a cluster-scoped resource has no namespace', { method: 'GET', url: '/apis/rbac.authorization.k8s.io/v1/clusterroles/view' }, { verb: 'get', namespace: '', resource: 'clusterroles', name: 'view' }],
  ['a percent-encoded name (client-node encodes ":") is decoded', { method: 'GET', url: '/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Aauth-delegator' }, { name: 'system:auth-delegator' }],
  ['a trailing slash changes nothing', { method: 'GET', url: '/api/v1/namespaces/team-a/pods/' }, { verb: 'list', resource: 'pods' }],
  ['the proxy verb takes no subresource: the rest is the proxied path', { method: 'GET', url: '/api/v1/proxy/namespaces/team-a/pods/web-1/metrics' }, { verb: 'proxy', resource: 'pods', name: 'web-1', subresource: '' }],
  ['an unknown method gets no verb, as at the API server', { method: 'OPTIONS', url: '/api/v1/namespaces/team-a/pods/web-1' }, { verb: '' }],
  ['a self review is create on a cluster-scoped resource', { method: 'POST', url: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews' }, { verb: 'create', apiGroup: 'authorization.k8s.io', resource: 'selfsubjectaccessreviews', namespace: '' }],
];

const nonResourceCases: ReadonlyArray<[string, RequestLine, Expected]> = [
  ['/version is a non-resource get', { method: 'GET', url: '/version' }, { verb: 'get', path: '/version' }],
  ['/api (legacy discovery) is non-resource', { method: 'GET', url: '/api' }, { path: '/api' }],
  ['/api/v1 (resource list of the core group) is non-resource', { method: 'GET', url: '/api/v1' }, { path: '/api/v1' }],
  ['/apis/apps is non-resource', { method: 'GET', url: '/apis/apps' }, { path: '/apis/apps' }],
  ['/apis/apps/v1 (a group version\'s resource list) is non-resource', { method: 'GET', url: '/apis/apps/v1' }, { path: '/apis/apps/v1' }],
  ['/healthz/etcd keeps its whole path and drops the query', { method: 'GET', url: '/healthz/etcd?verbose' }, { path: '/healthz/etcd' }],
  ['a POST to a non-resource URL has verb post (RBAC uses HTTP methods there)', { method: 'POST', url: '/logs/x' }, { verb: 'post', path: '/logs/x' }],
  ['a path outside /api and /apis is non-resource even when deep', { method: 'GET', url: '/metrics/slis/a/b' }, { path: '/metrics/slis/a/b' }],
];

const invalidCases: ReadonlyArray<[string, RequestLine]> = [
  ['a dot-dot segment', { method: 'GET', url: '/api/v1/namespaces/team-a/../team-b/pods' }],
  ['a dot segment', { method: 'GET', url: '/api/v1/./pods' }],
  ['an empty segment (double slash)', { method: 'GET', url: '/api//v1/pods' }],
  ['an encoded slash', { method: 'GET', url: '/api/v1/namespaces/team-a%2Fpods' }],
  ['broken percent-encoding', { method: 'GET', url: '/api/v1/namespaces/%zz/pods' }],
  ['an absolute-form target (proxy-style request)', { method: 'GET', url: 'http://example.com/api/v1/pods' }],
  ['/watch with nothing after it', { method: 'GET', url: '/api/v1/watch' }],
];

describe('requestAttributes: resource requests', () => {
  for (const [sentence, line, expected] of resourceCases) {
    it(sentence, () => {
      const got = picked(line);
      assert.equal(got.kind, 'resource');
      assert.deepEqual(Object.fromEntries(Object.keys(expected).map((k) => [k, got[k]])), expected);
    });
  }
});

describe('requestAttributes: non-resource requests', () => {
  for (const [sentence, line, expected] of nonResourceCases) {
    it(sentence, () => {
      const got = picked(line);
      assert.equal(got.kind, 'nonResource');
      assert.deepEqual(Object.fromEntries(Object.keys(expected).map((k) => [k, got[k]])), expected);
    });
  }
});

describe('requestAttributes: targets the proxy refuses to interpret', () => {
  for (const [sentence, line] of invalidCases) {
    it(`${sentence} is invalid, with a message naming the path`, () => {
      const got = picked(line);
      assert.equal(got.kind, 'invalid');
      assert.match(got.message!, /\S/);
    });
  }
});
