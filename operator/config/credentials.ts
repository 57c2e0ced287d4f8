// The TLS material and credentials of a kubeconfig's current cluster and user, for each request.
// Static certificates, bearer tokens, token files (re-read, as the kubelet rotates them) and basic
// auth are handled here, without @kubernetes/client-node: loading that library costs the process
// about 80 MB of memory (its generated API), more than all of the operator's caches at 10,000
// workloads (decision 0015). Exec plugins and auth providers (OIDC, cloud) are delegated to
// client-node, imported only when such a kubeconfig is used, exactly as before.
import { readFileSync } from 'node:fs';
import type * as https from 'node:https';
import type { RawKubeconfig } from './client-config.ts';

/** What the HTTP client asks for each request: it fills TLS options and an Authorization header. */
export interface CredentialSource {
  applyToHTTPSOptions(options: https.RequestOptions): Promise<void>;
}

/** A token file is read again at most this often (client-go's cached file token source: 1 minute). */
export const TOKEN_FILE_REREAD_MS = 60_000;

type Entry = Record<string, unknown>;

export class CredentialsError extends Error {
  readonly code = 'ClientConfigInvalid';
}

function str(entry: Entry, key: string): string | undefined {
  const value = entry[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function fileOrData(entry: Entry, fileKey: string, dataKey: string, what: string): Buffer | undefined {
  const data = str(entry, dataKey);
  if (data !== undefined) return Buffer.from(data, 'base64');
  const file = str(entry, fileKey);
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (error) {
    throw new CredentialsError(`${what} ${fileKey} ${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

/** The token file a user entry names: client-go's `tokenFile`, the `token-file` some tools write, or our tokenFile auth provider. */
function tokenFileOf(user: Entry): string | undefined {
  const provider = user['auth-provider'] as { name?: unknown; config?: Entry } | undefined;
  if (provider?.name === 'tokenFile' && provider.config !== undefined) return str(provider.config, 'tokenFile');
  return str(user, 'tokenFile') ?? str(user, 'token-file');
}

/** Impersonation fields: client-node sends them, so a user with any of them is left to it. */
const IMPERSONATION = ['as', 'as-groups', 'as-uid', 'as-user-extra'] as const;

/** Whether the user needs client-node: an exec plugin, an auth provider other than our tokenFile one, or impersonation. */
export function needsClientNode(user: Entry): boolean {
  const provider = user['auth-provider'] as { name?: unknown } | undefined;
  return user.exec !== undefined || (provider !== undefined && provider.name !== 'tokenFile') || IMPERSONATION.some((k) => user[k] !== undefined);
}

/**
 * Credentials of `cluster` and `user` (kubeconfig entries, file paths already absolute). TLS
 * verification stays on unless the cluster sets insecure-skip-tls-verify.
 */
export function credentialsFor(config: RawKubeconfig, cluster: Entry, user: Entry, now: () => number = Date.now): CredentialSource {
  if (needsClientNode(user)) return new ClientNodeCredentials(config);
  return new StaticCredentials(cluster, user, now);
}

interface Tls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** Certificates and tokens as the kubeconfig gives them; files are read at the first request, like client-node does. */
class StaticCredentials implements CredentialSource {
  private tls: Tls | undefined;
  private readonly skipTlsVerify: boolean;
  private readonly serverName: string | undefined;
  private readonly token: string | undefined;
  private readonly tokenFile: string | undefined;
  private readonly basic: string | undefined;
  private fileToken: { value: string; readAt: number } | undefined;

  constructor(
    private readonly cluster: Entry,
    private readonly user: Entry,
    private readonly now: () => number,
  ) {
    this.skipTlsVerify = cluster['insecure-skip-tls-verify'] === true;
    this.serverName = str(cluster, 'tls-server-name');
    this.token = str(user, 'token');
    this.tokenFile = this.token === undefined ? tokenFileOf(user) : undefined;
    const username = str(user, 'username');
    this.basic = username === undefined ? undefined : `${username}:${str(user, 'password') ?? ''}`;
  }

  private material(): Tls {
    if (this.tls !== undefined) return this.tls;
    const ca = fileOrData(this.cluster, 'certificate-authority', 'certificate-authority-data', 'cluster');
    const cert = fileOrData(this.user, 'client-certificate', 'client-certificate-data', 'user');
    const key = fileOrData(this.user, 'client-key', 'client-key-data', 'user');
    if ((cert === undefined) !== (key === undefined)) {
      throw new CredentialsError(`user: ${cert === undefined ? 'client-key is set without client-certificate' : 'client-certificate is set without client-key'}`);
    }
    this.tls = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
    return this.tls;
  }

  async applyToHTTPSOptions(options: https.RequestOptions): Promise<void> {
    const { ca, cert, key } = this.material();
    if (ca !== undefined) options.ca = ca;
    if (cert !== undefined) options.cert = cert;
    if (key !== undefined) options.key = key;
    if (this.skipTlsVerify) options.rejectUnauthorized = false;
    if (this.serverName !== undefined) options.servername = this.serverName;
    const token = this.token ?? (this.tokenFile !== undefined ? this.readTokenFile(this.now()) : undefined);
    const headers = (options.headers ??= {}) as Record<string, string>;
    if (token !== undefined) headers.Authorization = `Bearer ${token}`;
    else if (this.basic !== undefined) options.auth = this.basic;
  }

  /** The file's token, read again once it is older than TOKEN_FILE_REREAD_MS; the last good one if a re-read fails. */
  private readTokenFile(now: number): string {
    const cached = this.fileToken;
    if (cached !== undefined && now - cached.readAt < TOKEN_FILE_REREAD_MS) return cached.value;
    let value: string;
    try {
      value = readFileSync(this.tokenFile!, 'utf8').trim();
    } catch (error) {
      if (cached !== undefined) return cached.value;
      throw new CredentialsError(`user tokenFile ${this.tokenFile}: cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
    if (value === '') {
      if (cached !== undefined) return cached.value;
      throw new CredentialsError(`user tokenFile ${this.tokenFile}: is empty`);
    }
    this.fileToken = { value, readAt: now };
    return value;
  }
}

/** Exec plugins and auth providers: client-node's KubeConfig, loaded on first use. */
class ClientNodeCredentials implements CredentialSource {
  private loaded: Promise<CredentialSource> | undefined;

  constructor(private readonly config: RawKubeconfig) {}

  async applyToHTTPSOptions(options: https.RequestOptions): Promise<void> {
    this.loaded ??= (async () => {
      const [{ KubeConfig }, { stringify }] = await Promise.all([import('@kubernetes/client-node'), import('yaml')]);
      const kc = new KubeConfig();
      kc.loadFromString(stringify(this.config));
      return kc;
    })();
    await (await this.loaded).applyToHTTPSOptions(options);
  }
}
