// The committed examples as `npm start` applies them to the local cluster: unchanged, except that
// the seed-000 kubeconfig (ConfigMap kip-config) gets a client certificate the local cluster's CA
// signed through the CertificateSigningRequest API, exactly as a platform engineer would obtain one.
// Its user is the profile's ServiceAccount name, so the profile's permissions are what it is granted
// (docs/decisions: "The seed-000 example on the local cluster").
import { stringify } from 'yaml';
import { EXAMPLES_NAMESPACE, KIP_CONFIGMAP, KIP_CONFIGMAP_KEY } from '../manifests/examples.ts';
import type { KubeClient } from '../operator/kube/client.ts';
import { certificateKubeconfig, signedClientCertificate } from './certificates.ts';
import type { ClusterInfo } from './cluster/cluster-info.ts';
import { manifest, type Manifest } from './install.ts';

const KIP_AGENT = 'kip-network-agent';

/** examples.k8s.yaml with the seed-000 kubeconfig made valid for this cluster, as YAML for `kubectl apply -f -`. */
export async function localExamplesYaml(info: ClusterInfo, admin: KubeClient): Promise<string> {
  const kubeconfig = await kipKubeconfig(info, admin);
  const objects = manifest('examples.k8s.yaml').map((o): Manifest =>
    o.kind === 'ConfigMap' && o.metadata.name === KIP_CONFIGMAP ? { ...o, data: { [KIP_CONFIGMAP_KEY]: kubeconfig } } as Manifest : o,
  );
  return objects.map((o) => stringify(o)).join('---\n');
}

/** A kubeconfig for https://kubernetes.default.svc with an embedded client certificate and key (the seed-000 shape). */
async function kipKubeconfig(info: ClusterInfo, admin: KubeClient): Promise<string> {
  const user = `system:serviceaccount:${EXAMPLES_NAMESPACE}:${KIP_AGENT}`;
  const { certificate, key } = await signedClientCertificate(admin, { user });
  return await certificateKubeconfig({ server: 'https://kubernetes.default.svc', caFile: info.caFile, user: KIP_AGENT, certificate, key });
}
