// The reference scenarios as a user would write them with the ApiAccess construct. They run as they
// are on the local cluster (`npm start`): every container uses the clients image that
// `npm run image` builds there (curl, kubectl, Python, Node), never pulled, with small requests and
// one replica each. Point them at your own images with kustomize `images:` (docs/install.md).
import { ApiObject, Chart, Size, type ChartProps } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import type { Construct } from 'constructs';
import { ApiAccess } from './api-access.ts';

export const EXAMPLES_NAMESPACE = 'apiaccess-examples';
/** Built by `npm run image` from Debian/npm/Go packages; `IfNotPresent`, since no registry has it. */
export const EXAMPLES_IMAGE = 'localhost/apiaccess-clients:test';
/** The non-root user every example container runs as. */
export const EXAMPLES_UID = 65532;
export const KIP_CONFIGMAP = 'kip-config';
export const KIP_CONFIGMAP_KEY = 'kubeconfig';

// Placeholder for the user-supplied kubeconfig of seed 000: the in-cluster server name, and
// certificate files instead of key material, so nothing secret is committed. Replace it with your
// own; `npm start` replaces it with one holding a client certificate issued by the local cluster's CA.
const KIP_KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: kubernetes
  cluster:
    server: https://kubernetes.default.svc
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

/** A shell loop that runs `command` every 30 s, so the example keeps reaching the API and its logs show the answers. */
function every30s(command: string): string[] {
  return ['sh', '-c', `while true; do date -u +%FT%TZ; ${command}; sleep 30; done`];
}

/** One replica of one small non-root container of the clients image; /tmp is the only writable path. */
function exampleDeployment(scope: Construct, name: string, container: { name: string; command: string[] }, pod: { fsGroup?: number } = {}): kplus.Deployment {
  const deployment = new kplus.Deployment(scope, name, {
    metadata: { name, namespace: EXAMPLES_NAMESPACE },
    replicas: 1,
    securityContext: { ensureNonRoot: true, user: EXAMPLES_UID, group: EXAMPLES_UID, ...(pod.fsGroup !== undefined ? { fsGroup: pod.fsGroup } : {}) },
    containers: [
      {
        name: container.name,
        image: EXAMPLES_IMAGE,
        imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
        command: container.command,
        // kubectl writes its discovery cache under $HOME; the root filesystem stays read-only.
        envVariables: { HOME: kplus.EnvValue.fromValue('/tmp') },
        resources: {
          cpu: { request: kplus.Cpu.millis(5), limit: kplus.Cpu.millis(200) },
          memory: { request: Size.mebibytes(32), limit: Size.mebibytes(128) },
        },
        securityContext: { ensureNonRoot: true, user: EXAMPLES_UID, group: EXAMPLES_UID, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
      },
    ],
  });
  deployment.containers[0]!.mount('/tmp', kplus.Volume.fromEmptyDir(scope, `${name}-tmp`, 'tmp'));
  return deployment;
}

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
    // Stands in for the kip controller (no kip image here): the same API reads, with in-cluster config.
    const kip = exampleDeployment(this, 'kip', { name: 'kip', command: every30s('kubectl get nodes; kubectl get pods --all-namespaces') });
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
      metadata: { name: KIP_CONFIGMAP, namespace: EXAMPLES_NAMESPACE },
      data: { [KIP_CONFIGMAP_KEY]: KIP_KUBECONFIG },
    });
    // The kubeconfig is mode 0600 (items mode 384, as in the seed): a non-root container reads it
    // through the pod's fsGroup, which the kubelet gives the file's group to.
    const agent = exampleDeployment(
      this,
      'kip-network-agent',
      { name: 'kip-network-agent', command: every30s('kubectl --kubeconfig /etc/kip/kubeconfig get services,endpoints --all-namespaces') },
      { fsGroup: EXAMPLES_UID },
    );
    new ApiAccess(this, 'kip-network-agent-access', {
      workload: agent,
      spec: {
        auth: 'Kubeconfig',
        kubeconfig: { source: 'ConfigMap', name: KIP_CONFIGMAP, key: KIP_CONFIGMAP_KEY, mountPath: '/etc/kip', fileMode: 384 },
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
    const agent = exampleDeployment(this, 'config-agent', { name: 'agent', command: every30s('kubectl get configmaps') });
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
    const reader = exampleDeployment(this, 'pod-reader', {
      name: 'reader',
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
    });
    new ApiAccess(this, 'pod-reader-access', {
      workload: reader,
      spec: { auth: 'ServiceAccount', permissions: { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }] } },
    });
  }
}
