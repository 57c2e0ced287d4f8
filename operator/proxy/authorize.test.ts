import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyRule } from '../../crds/apiaccessprofile.ts';
import { authorize, type Rules } from './authorize.ts';
import { requestAttributes, type RequestAttributes, type RequestLine } from './request-attributes.ts';

const USER = 'system:serviceaccount:team-a:agent';

function rules(scope: 'Namespace' | 'Cluster', list: PolicyRule[]): Rules {
  return { profile: 'team-a/agent', user: USER, scope, namespace: 'team-a', rules: list };
}

function attributes(line: RequestLine): RequestAttributes {
  const a = requestAttributes(line);
  if (a.kind === 'invalid') throw new Error(a.message);
  return a;
}

function allowed(r: Rules, method: string, url: string, upgrade = false): boolean {
  return authorize(attributes({ method, url, upgrade }), r).allowed;
}

const readPods: PolicyRule = { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] };
const namespaced = rules('Namespace', [readPods]);

describe('authorize: the profile\'s rules with RBAC semantics', () => {
  const cases: ReadonlyArray<[string, Rules, string, string, boolean]> = [
    ['a granted list in the profile\'s namespace is allowed', namespaced, 'GET', '/api/v1/namespaces/team-a/pods', true],
    ['a granted watch is allowed', namespaced, 'GET', '/api/v1/namespaces/team-a/pods?watch=true', true],
    ['a verb that is not granted is refused', namespaced, 'DELETE', '/api/v1/namespaces/team-a/pods/web-1', false],
    ['another resource of the same group is refused', namespaced, 'GET', '/api/v1/namespaces/team-a/secrets', false],
    ['the same resource name in another group is refused', namespaced, 'GET', '/apis/metrics.k8s.io/v1beta1/namespaces/team-a/pods', false],
    ['a subresource is not covered by its resource', namespaced, 'GET', '/api/v1/namespaces/team-a/pods/web-1/log', false],
    ['pods/log grants the log subresource', rules('Namespace', [{ apiGroups: [''], resources: ['pods/log'], verbs: ['get'] }]), 'GET', '/api/v1/namespaces/team-a/pods/web-1/log?follow=true', true],
    ['pods/log does not grant the pods themselves', rules('Namespace', [{ apiGroups: [''], resources: ['pods/log'], verbs: ['get'] }]), 'GET', '/api/v1/namespaces/team-a/pods/web-1', false],
    ['*/scale grants the scale subresource of every resource', rules('Namespace', [{ apiGroups: ['apps'], resources: ['*/scale'], verbs: ['update'] }]), 'PUT', '/apis/apps/v1/namespaces/team-a/deployments/web/scale', true],
    ['"*" resources grant subresources too', rules('Namespace', [{ apiGroups: [''], resources: ['*'], verbs: ['get'] }]), 'GET', '/api/v1/namespaces/team-a/pods/web-1/log', true],
    ['"*" verbs grant every verb', rules('Namespace', [{ apiGroups: [''], resources: ['configmaps'], verbs: ['*'] }]), 'DELETE', '/api/v1/namespaces/team-a/configmaps', true],
    ['"*" apiGroups grant every group', rules('Namespace', [{ apiGroups: ['*'], resources: ['deployments'], verbs: ['get'] }]), 'GET', '/apis/apps/v1/namespaces/team-a/deployments/web', true],
    ['a rule without apiGroups grants no resource', rules('Namespace', [{ resources: ['pods'], verbs: ['get'] }]), 'GET', '/api/v1/namespaces/team-a/pods/web-1', false],
    ['resourceNames allow the named object', rules('Namespace', [{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['app'], verbs: ['get'] }]), 'GET', '/api/v1/namespaces/team-a/configmaps/app', true],
    ['resourceNames refuse another object', rules('Namespace', [{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['app'], verbs: ['get'] }]), 'GET', '/api/v1/namespaces/team-a/configmaps/other', false],
    ['resourceNames refuse an unnarrowed list', rules('Namespace', [{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['app'], verbs: ['list'] }]), 'GET', '/api/v1/namespaces/team-a/configmaps', false],
    ['resourceNames allow a list narrowed to the name by fieldSelector', rules('Namespace', [{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['app'], verbs: ['list'] }]), 'GET', '/api/v1/namespaces/team-a/configmaps?fieldSelector=metadata.name%3Dapp', true],
    ['resourceNames refuse a create (it has no name yet)', rules('Namespace', [{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['app'], verbs: ['create'] }]), 'POST', '/api/v1/namespaces/team-a/configmaps', false],
    ['Namespace scope refuses another namespace', namespaced, 'GET', '/api/v1/namespaces/team-b/pods', false],
    ['Namespace scope refuses a list across all namespaces', namespaced, 'GET', '/api/v1/pods', false],
    ['Namespace scope refuses a cluster-scoped resource even when "*" is granted', rules('Namespace', [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }]), 'GET', '/api/v1/nodes', false],
    ['Namespace scope refuses non-resource URLs even when listed', rules('Namespace', [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }]), 'GET', '/metrics', false],
    ['Cluster scope allows another namespace', rules('Cluster', [readPods]), 'GET', '/api/v1/namespaces/team-b/pods', true],
    ['Cluster scope allows a list across all namespaces', rules('Cluster', [readPods]), 'GET', '/api/v1/pods', true],
    ['Cluster scope allows a granted cluster-scoped resource', rules('Cluster', [{ apiGroups: [''], resources: ['nodes'], verbs: ['list'] }]), 'GET', '/api/v1/nodes', true],
    ['Cluster scope allows a listed non-resource URL', rules('Cluster', [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }]), 'GET', '/metrics', true],
    ['a non-resource URL with a trailing "*" allows the paths under it', rules('Cluster', [{ nonResourceURLs: ['/logs/*'], verbs: ['get'] }]), 'GET', '/logs/kube-apiserver.log', true],
    ['a non-resource URL without "*" allows only itself', rules('Cluster', [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }]), 'GET', '/metrics/slis', false],
    ['a non-resource URL rule grants only its verbs (HTTP methods)', rules('Cluster', [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }]), 'POST', '/metrics', false],
    ['a non-resource rule grants no resource', rules('Cluster', [{ nonResourceURLs: ['*'], verbs: ['*'] }]), 'GET', '/api/v1/pods', false],
    ['a resource rule grants no non-resource URL', rules('Cluster', [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }]), 'GET', '/metrics', false],
    ['a WebSocket exec needs create on pods/exec, get is not enough', rules('Namespace', [{ apiGroups: [''], resources: ['pods/exec'], verbs: ['get'] }]), 'GET', '/api/v1/namespaces/team-a/pods/web-1/exec?command=sh', false],
  ];
  for (const [sentence, r, method, url, expected] of cases) {
    it(sentence, () => assert.equal(allowed(r, method, url, url.includes('/exec')), expected));
  }

  it('a WebSocket exec is allowed by create on pods/exec', () => {
    const r = rules('Namespace', [{ apiGroups: [''], resources: ['pods/exec'], verbs: ['create'] }]);
    assert.equal(allowed(r, 'GET', '/api/v1/namespaces/team-a/pods/web-1/exec?command=sh', true), true);
  });
});

describe('authorize: what every authenticated user may do anyway', () => {
  const empty = rules('Namespace', []);
  const always: ReadonlyArray<[string, string]> = [
    ['GET', '/api'],
    ['GET', '/api/v1'],
    ['GET', '/apis'],
    ['GET', '/apis/apps/v1'],
    ['GET', '/version'],
    ['GET', '/version/'],
    ['GET', '/openapi/v2'],
    ['GET', '/openapi/v3/apis/apps/v1'],
    ['GET', '/healthz'],
    ['GET', '/livez'],
    ['GET', '/readyz/etcd'],
    ['POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews'],
    ['POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews'],
    ['POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews'],
  ];
  for (const [method, url] of always) {
    it(`${method} ${url} is allowed with no rules at all`, () => assert.equal(allowed(empty, method, url), true));
  }

  const refused: ReadonlyArray<[string, string]> = [
    ['GET', '/api/v1/namespaces/team-a/pods'],
    ['GET', '/api/v1/namespaces/team-a/configmaps/app'],
    ['GET', '/metrics'],
    ['GET', '/logs/'],
    ['POST', '/version'],
    ['POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews'],
    ['POST', '/apis/authentication.k8s.io/v1/tokenreviews'],
    ['GET', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews'],
  ];
  for (const [method, url] of refused) {
    it(`${method} ${url} is refused with no rules`, () => assert.equal(allowed(empty, method, url), false));
  }
});

describe('authorize: the refusal the application receives', () => {
  it('a list in another namespace: the API server\'s Status with the profile named, and the header', () => {
    const d = authorize(attributes({ method: 'GET', url: '/api/v1/namespaces/x/pods' }), namespaced);
    assert.equal(d.allowed, false);
    if (d.allowed) return;
    assert.deepEqual(d.status, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'pods is forbidden: User "system:serviceaccount:team-a:agent" cannot list resource "pods" in API group "" in the namespace "x": not allowed by ApiAccessProfile team-a/agent (apiaccess proxy)',
      reason: 'Forbidden',
      details: { kind: 'pods' },
      code: 403,
    });
    assert.equal(d.header, 'verb=list; group=; resource=pods; subresource=; namespace=x; name=');
  });

  it('a named object of a group with a subresource: all of them in the message, details and header', () => {
    const d = authorize(attributes({ method: 'PUT', url: '/apis/apps/v1/namespaces/team-a/deployments/web/scale' }), namespaced);
    assert.ok(!d.allowed);
    assert.equal(
      d.status.message,
      'deployments.apps "web" is forbidden: User "system:serviceaccount:team-a:agent" cannot update resource "deployments/scale" in API group "apps" in the namespace "team-a": not allowed by ApiAccessProfile team-a/agent (apiaccess proxy)',
    );
    assert.deepEqual(d.status.details, { name: 'web', group: 'apps', kind: 'deployments' });
    assert.equal(d.header, 'verb=update; group=apps; resource=deployments; subresource=scale; namespace=team-a; name=web');
  });

  it('a cluster-scoped resource at Namespace scope: "at the cluster scope"', () => {
    const d = authorize(attributes({ method: 'GET', url: '/api/v1/nodes' }), namespaced);
    assert.ok(!d.allowed);
    assert.equal(
      d.status.message,
      'nodes is forbidden: User "system:serviceaccount:team-a:agent" cannot list resource "nodes" in API group "" at the cluster scope: not allowed by ApiAccessProfile team-a/agent (apiaccess proxy)',
    );
    assert.equal(d.header, 'verb=list; group=; resource=nodes; subresource=; namespace=; name=');
  });

  it('a non-resource URL: "cannot get path", empty details, and the path in the header', () => {
    const d = authorize(attributes({ method: 'GET', url: '/metrics' }), namespaced);
    assert.ok(!d.allowed);
    assert.equal(d.status.message, 'forbidden: User "system:serviceaccount:team-a:agent" cannot get path "/metrics": not allowed by ApiAccessProfile team-a/agent (apiaccess proxy)');
    assert.deepEqual(d.status.details, {});
    assert.equal(d.header, 'verb=get; path=/metrics');
  });

  it('a header value never carries a character a header cannot hold, nor a stray "; "', () => {
    const d = authorize(attributes({ method: 'GET', url: '/caf%C3%A9;%20x' }), namespaced);
    assert.ok(!d.allowed);
    assert.equal(d.header, 'verb=get; path=/caf%C3%A9%3B%20x');
  });
});
