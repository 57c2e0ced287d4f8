// The API client of the one-shot commands (preview, kubeconfig): the operator's own config precedence.
import { resolveClientConfig } from '../config/client-config.ts';
import { KubeClient } from '../kube/client.ts';

export function cliClient(kubeconfig: string | undefined): KubeClient {
  const config = resolveClientConfig(kubeconfig !== undefined ? { kubeconfig } : {});
  for (const warning of config.warnings) process.stderr.write(`warning: ${warning}\n`);
  return KubeClient.fromClientConfig(config, { userAgent: 'apiaccess-cli' });
}
