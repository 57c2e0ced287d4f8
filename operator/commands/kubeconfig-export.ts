// `apiaccess kubeconfig PROFILE -n NS`: a kubeconfig for the profile's ServiceAccount, for use outside
// the cluster. The token comes from TokenRequest (so it expires), the CA is embedded.
import { closeSync, constants, lstatSync, openSync, writeSync } from 'node:fs';
import { stringify } from 'yaml';
import { parseSpec } from '../../crds/apiaccessprofile.ts';
import { resolveClientConfig } from '../config/client-config.ts';
import { KubeClient, type KubeObject } from '../kube/client.ts';
import { objectPath, RESOURCES } from '../kube/resources.ts';
import { CommandExit, EXIT_FAILURE, EXIT_USAGE } from '../exit.ts';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };
/** The API server's own minimum for TokenRequest. */
export const MIN_DURATION_SECONDS = 600;

/** "90m", "1h30m", "3600s", "2d" -> seconds. */
export function parseDuration(text: string): number {
  const parts = [...text.matchAll(/(\d+)([smhd])/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new CommandExit(EXIT_USAGE, `--duration must look like 45m, 1h or 1h30m (units s, m, h, d), got "${text}"`);
  }
  const seconds = parts.reduce((sum, p) => sum + Number(p[1]) * (UNITS[p[2] ?? 's'] ?? 1), 0);
  if (seconds < MIN_DURATION_SECONDS) throw new CommandExit(EXIT_USAGE, `--duration must be at least 10m (the API server's minimum), got "${text}"`);
  return seconds;
}

export interface ExportInput {
  namespace: string;
  profile: string;
  durationSeconds: number;
  server: string;
  /** PEM of the cluster CA to embed; read from kube-root-ca.crt when undefined. */
  caPem?: string;
}

export interface ExportedKubeconfig {
  text: string;
  expirationTimestamp: string;
  serviceAccount: string;
}

export async function exportKubeconfig(client: KubeClient, input: ExportInput): Promise<ExportedKubeconfig> {
  const { namespace, profile } = input;
  const live = await client.get<KubeObject & { spec?: unknown }>(objectPath(RESOURCES.ApiAccessProfile, namespace, profile));
  if (live === undefined) throw new CommandExit(EXIT_FAILURE, `ApiAccessProfile ${namespace}/${profile} not found`);
  const parsed = parseSpec(live.spec);
  if (!parsed.ok) throw new CommandExit(EXIT_FAILURE, `ApiAccessProfile ${namespace}/${profile} has an invalid spec: ${parsed.message}`);
  const sa = parsed.spec.serviceAccount.name ?? profile;
  const review = await client.request<{ status: { token: string; expirationTimestamp: string } }>(
    'POST',
    objectPath(RESOURCES.ServiceAccount, namespace, sa, 'token'),
    { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: input.durationSeconds } } },
  );
  const ca = input.caPem ?? (await client.get<{ data?: Record<string, string> }>(objectPath(RESOURCES.ConfigMap, namespace, 'kube-root-ca.crt')))?.data?.['ca.crt'];
  if (ca === undefined) throw new CommandExit(EXIT_FAILURE, `No CA to embed: the kubeconfig has none and ConfigMap ${namespace}/kube-root-ca.crt is missing`);
  const name = `${sa}@${namespace}`;
  const text = stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'cluster', cluster: { server: input.server, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
    users: [{ name, user: { token: review.status.token } }],
    contexts: [{ name, context: { cluster: 'cluster', user: name, namespace } }],
    'current-context': name,
  });
  return { text: `# ServiceAccount ${namespace}/${sa} of ApiAccessProfile ${profile}; the token expires at ${review.status.expirationTimestamp}\n${text}`, expirationTimestamp: review.status.expirationTimestamp, serviceAccount: sa };
}

/**
 * Writes the kubeconfig readable by its owner only (it holds a credential): a new file created 0600,
 * never an existing one (which may be readable by others) and never through a symlink.
 */
export function writePrivate(file: string, text: string): void {
  let fd: number;
  try {
    fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new CommandExit(EXIT_FAILURE, `--output ${file} already exists; the token is written only into a new file (mode 0600): remove it or choose another path`);
    }
    throw new CommandExit(EXIT_FAILURE, `Cannot create --output ${file}: ${(error as Error).message}`);
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

function lexists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

export interface KubeconfigFlags {
  namespace: string;
  duration: string;
  server?: string;
  output?: string;
  kubeconfig?: string;
}

/** The `apiaccess kubeconfig` action: prints (or writes) the kubeconfig and says when its token expires. */
export async function kubeconfigCommand(profile: string, flags: KubeconfigFlags): Promise<void> {
  const durationSeconds = parseDuration(flags.duration);
  // Fail before a token is minted: the output file is only ever created new.
  if (flags.output !== undefined && lexists(flags.output)) {
    throw new CommandExit(EXIT_FAILURE, `--output ${flags.output} already exists; the token is written only into a new file (mode 0600): remove it or choose another path`);
  }
  const config = resolveClientConfig(flags.kubeconfig !== undefined ? { kubeconfig: flags.kubeconfig } : {});
  const caPem = config.caPem;
  const client = KubeClient.fromClientConfig(config, { userAgent: 'apiaccess-cli' });
  try {
    const out = await exportKubeconfig(client, { namespace: flags.namespace, profile, durationSeconds, server: flags.server ?? config.server, ...(caPem ? { caPem } : {}) });
    if (flags.output !== undefined) writePrivate(flags.output, out.text);
    else process.stdout.write(out.text);
    process.stderr.write(`Kubeconfig for ServiceAccount ${flags.namespace}/${out.serviceAccount}${flags.output ? ` written to ${flags.output} (mode 0600)` : ''}; the token expires at ${out.expirationTimestamp}\n`);
  } finally {
    client.close();
  }
}
