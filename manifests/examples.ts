// The reference scenarios as a user would write them with the ApiAccess construct.
import { ApiObject, Chart, type ChartProps } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import type { Construct } from 'constructs';
import { ApiAccess } from './api-access.ts';

export const EXAMPLES_NAMESPACE = 'apiaccess-examples';

// Placeholder for the user-supplied kubeconfig of seed 000. It names certificate files instead of
// holding key material, so nothing secret is committed; replace it with your own.
const KIP_KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: kubernetes
  cluster:
    server: https://10.20.30.40:6443
    certificate-authority: /etc/kip-tls/ca.crt
contexts:
- name: kip-network-agent@kubernetes
  context:
    cluster: kubernetes
    user: kip-network-agent
current-context: kip-network-agent@kubernetes
preferences: {}
users:
- name: kip-network-agent
  user:
    client-certificate: /etc/kip-tls/tls.crt
    client-key: /etc/kip-tls/tls.key
`;

export class Examples extends Chart {
  constructor(scope: Construct, id: string, props: ChartProps = {}) {
    super(scope, id, { disableResourceNameHashes: true, ...props });
    new kplus.Namespace(this, 'namespace', { metadata: { name: EXAMPLES_NAMESPACE } });
    // Objects set their namespace themselves: a chart-wide namespace would also land on cluster-scoped objects.
    this.kipController();
    this.kipNetworkAgent();
    this.generatedKubeconfigAgent();
    this.serviceAccountReader();
  }

  /** Seed 000, first half: the controller reaches the API with a ServiceAccount bound to a ClusterRole. */
  private kipController(): void {
    const kip = new kplus.Deployment(this, 'kip', {
      metadata: { name: 'kip', namespace: EXAMPLES_NAMESPACE },
      containers: [
        {
          name: 'kip',
          image: 'elotl/kip:v1.0.0',
          command: ['/kip', '--provider', 'kip', '--provider-config', '/etc/kip/provider.yaml'],
          securityContext: { ensureNonRoot: false },
        },
      ],
    });
    new ApiAccess(this, 'kip-access', {
      workload: kip,
      spec: {
        auth: 'ServiceAccount',
        permissions: {
          scope: 'Cluster',
          rules: [
            { apiGroups: [''], resources: ['nodes', 'nodes/status'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
            { apiGroups: [''], resources: ['pods', 'pods/status'], verbs: ['get', 'list', 'watch', 'update', 'patch', 'delete'] },
            { apiGroups: [''], resources: ['services', 'endpoints', 'configmaps', 'secrets'], verbs: ['get', 'list', 'watch'] },
            { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['get', 'list', 'watch', 'create', 'update'] },
          ],
        },
      },
    });
  }

  /** Seed 000, second half: the network agent reads a user-supplied kubeconfig from the ConfigMap kip-config. */
  private kipNetworkAgent(): void {
    new ApiObject(this, 'kip-config', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kip-config', namespace: EXAMPLES_NAMESPACE },
      data: { kubeconfig: KIP_KUBECONFIG },
    });
    const agent = new kplus.Deployment(this, 'kip-network-agent', {
      metadata: { name: 'kip-network-agent', namespace: EXAMPLES_NAMESPACE },
      containers: [
        {
          name: 'kip-network-agent',
          image: 'elotl/kip:v1.0.0',
          command: ['/kip-network-agent', '--network-agent-kubeconfig', '/etc/kip/kubeconfig'],
          securityContext: { ensureNonRoot: false },
        },
      ],
    });
    new ApiAccess(this, 'kip-network-agent-access', {
      workload: agent,
      spec: {
        auth: 'Kubeconfig',
        kubeconfig: { source: 'ConfigMap', name: 'kip-config', key: 'kubeconfig', mountPath: '/etc/kip', fileMode: 384 },
        permissions: {
          scope: 'Cluster',
          rules: [
            { apiGroups: [''], resources: ['services', 'endpoints'], verbs: ['get', 'list', 'watch'] },
            { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['get', 'list', 'watch'] },
          ],
        },
      },
    });
  }

  /** An agent on a generated kubeconfig: projected token + kube-root-ca.crt + an operator-owned ConfigMap. */
  private generatedKubeconfigAgent(): void {
    const agent = new kplus.Deployment(this, 'config-agent', {
      metadata: { name: 'config-agent', namespace: EXAMPLES_NAMESPACE },
      containers: [
        {
          name: 'agent',
          image: 'registry.k8s.io/kubectl:v1.34.4',
          command: ['sh', '-c', 'while true; do kubectl get configmaps; sleep 30; done'],
        },
      ],
    });
    new ApiAccess(this, 'config-agent-access', {
      workload: agent,
      spec: {
        auth: 'Kubeconfig',
        kubeconfig: { source: 'Generated' },
        permissions: { rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }] },
      },
    });
  }

  /** ServiceAccount mode: the container curls the API exactly as in the Kubernetes docs (seed 004). */
  private serviceAccountReader(): void {
    const reader = new kplus.Deployment(this, 'pod-reader', {
      metadata: { name: 'pod-reader', namespace: EXAMPLES_NAMESPACE },
      containers: [
        {
          name: 'reader',
          image: 'curlimages/curl:8.11.1',
          command: [
            'sh',
            '-c',
            [
              'APISERVER=https://kubernetes.default.svc',
              'SERVICEACCOUNT=/var/run/secrets/kubernetes.io/serviceaccount',
              'NAMESPACE=$(cat ${SERVICEACCOUNT}/namespace)',
              'TOKEN=$(cat ${SERVICEACCOUNT}/token)',
              'CACERT=${SERVICEACCOUNT}/ca.crt',
              'while true; do curl --cacert ${CACERT} --header "Authorization: Bearer ${TOKEN}" -X GET ${APISERVER}/api/v1/namespaces/${NAMESPACE}/pods; sleep 30; done',
            ].join('\n'),
          ],
        },
      ],
    });
    new ApiAccess(this, 'pod-reader-access', {
      workload: reader,
      spec: { auth: 'ServiceAccount', permissions: { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }] } },
    });
  }
}
