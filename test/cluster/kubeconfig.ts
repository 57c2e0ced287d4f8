// Kubeconfig files for the local control plane. Credentials and the CA are embedded, so a file can
// be copied anywhere (into a ConfigMap for the seed-000 shape, for instance) and still work.
import { readFile, writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';

export type Credential =
  | { readonly token: string }
  | { readonly certFile: string; readonly keyFile: string };

export interface KubeconfigInput {
  readonly server: string;
  readonly caFile: string;
  readonly user: string;
  readonly credential: Credential;
  readonly namespace?: string;
}

export async function kubeconfigYaml(input: KubeconfigInput): Promise<string> {
  const caData = await base64File(input.caFile);
  const user =
    'token' in input.credential
      ? { token: input.credential.token }
      : {
          'client-certificate-data': await base64File(input.credential.certFile),
          'client-key-data': await base64File(input.credential.keyFile),
        };
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'apiaccess-local', cluster: { server: input.server, 'certificate-authority-data': caData } }],
    users: [{ name: input.user, user }],
    contexts: [
      {
        name: `${input.user}@apiaccess-local`,
        context: { cluster: 'apiaccess-local', user: input.user, ...(input.namespace ? { namespace: input.namespace } : {}) },
      },
    ],
    'current-context': `${input.user}@apiaccess-local`,
    preferences: {},
  });
}

export async function writeKubeconfig(path: string, input: KubeconfigInput): Promise<void> {
  await writeFile(path, await kubeconfigYaml(input), { mode: 0o600 });
}

async function base64File(path: string): Promise<string> {
  return (await readFile(path)).toString('base64');
}
