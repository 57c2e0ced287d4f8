// Installs the synthesized manifests into the test control plane by server-side apply, with the
// operator's own raw-JSON client: client-node's typed serializer drops CRD schema keys it renames
// (`default`, `enum`, `x-kubernetes-validations`), so it cannot apply a CRD faithfully.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeClient, type KubeObject } from '../operator/kube/client.ts';
import { kubeConfig, parseYaml, waitFor } from './harness.ts';

const dist = join(import.meta.dirname, '..', 'manifests', 'dist');

export function manifest(file: 'operator.k8s.yaml' | 'examples.k8s.yaml'): string {
  return readFileSync(join(dist, file), 'utf8');
}

/** Server-side apply of every document as `fieldManager`, in order, by the admin. */
export async function applyRaw(text: string | readonly object[], fieldManager = 'apiaccess-test'): Promise<KubeObject[]> {
  const client = KubeClient.fromKubeConfig(kubeConfig('admin'));
  try {
    const out: KubeObject[] = [];
    for (const obj of typeof text === 'string' ? parseYaml(text) : text) {
      out.push(await client.apply(obj as KubeObject & { apiVersion: string; kind: string }, { fieldManager, force: true }));
    }
    return out;
  } finally {
    client.close();
  }
}

let installed: Promise<void> | undefined;

/** The CRD, the operator's namespace, ServiceAccount and RBAC (its Deployment's Pods stay Pending). */
export async function installCrdAndOperatorRbac(): Promise<void> {
  installed ??= (async () => {
    await applyRaw(manifest('operator.k8s.yaml'));
    const client = KubeClient.fromKubeConfig(kubeConfig('admin'));
    try {
      await waitFor(
        async () => {
          const crd = await client.get<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(
            '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/apiaccessprofiles.apiaccess.dev',
          );
          return crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
        },
        { what: 'the ApiAccessProfile CRD to be Established' },
      );
    } finally {
      client.close();
    }
  })();
  await installed;
}
