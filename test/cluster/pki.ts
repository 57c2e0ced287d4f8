// The control plane's certificates and keys, made with the openssl CLI (node:crypto cannot issue
// X.509 certificates). The serving certificate names what a real cluster's names, so in-pod clients
// verify `https://kubernetes.default.svc` and `https://10.96.0.1` without special cases.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/12';
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
export const SERVING_NAMES = [
  'localhost',
  'kubernetes',
  'kubernetes.default',
  'kubernetes.default.svc',
  'kubernetes.default.svc.cluster.local',
] as const;

export interface KeyPair {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface Pki {
  readonly ca: KeyPair;
  readonly serving: KeyPair;
  /** Further serving certificates by name (the kubelet's), signed by the same CA. */
  readonly servers: Readonly<Record<string, KeyPair>>;
  /** Client certificates by user name (CN); their O fields are the groups. */
  readonly clients: Readonly<Record<string, KeyPair>>;
  /** Signs ServiceAccount tokens (kube-controller-manager and kube-apiserver). */
  readonly serviceAccountKey: string;
  readonly serviceAccountPublicKey: string;
}

export interface ClientIdentity {
  readonly user: string;
  readonly groups: readonly string[];
}

export interface ServerIdentity {
  readonly name: string;
  readonly commonName: string;
  readonly ips: readonly string[];
}

export interface PkiOptions {
  /** Addresses the API server serves on besides 127.0.0.1 and the service IP (the node address). */
  readonly apiserverIPs?: readonly string[];
  readonly servers?: readonly ServerIdentity[];
}

export async function createPki(dir: string, clients: readonly ClientIdentity[], options: PkiOptions = {}): Promise<Pki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ca = { certFile: join(dir, 'ca.crt'), keyFile: join(dir, 'ca.key') };
  await openssl(['req', '-x509', ...newEcKey(ca.keyFile), '-out', ca.certFile, '-days', '3650',
    '-subj', '/CN=apiaccess-local-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature']);

  const ips = ['127.0.0.1', KUBERNETES_SERVICE_IP, ...(options.apiserverIPs ?? [])];
  const sans = [...SERVING_NAMES.map((n) => `DNS:${n}`), ...ips.map((ip) => `IP:${ip}`)];
  const serving = await issue(dir, ca, 'apiserver', '/CN=kube-apiserver', [
    `subjectAltName=${sans.join(',')}`,
    'extendedKeyUsage=serverAuth',
  ]);

  const servers: Record<string, KeyPair> = {};
  for (const server of options.servers ?? []) {
    servers[server.name] = await issue(dir, ca, `server-${server.name}`, `/CN=${server.commonName}`, [
      `subjectAltName=${server.ips.map((ip) => `IP:${ip}`).join(',')}`,
      'extendedKeyUsage=serverAuth',
    ]);
  }

  const issued: Record<string, KeyPair> = {};
  for (const client of clients) {
    const subject = [...client.groups.map((g) => `/O=${g}`), `/CN=${client.user}`].join('');
    issued[client.user] = await issue(dir, ca, `client-${client.user.replaceAll(':', '-')}`, subject, [
      'extendedKeyUsage=clientAuth',
    ]);
  }

  const serviceAccountKey = join(dir, 'sa.key');
  const serviceAccountPublicKey = join(dir, 'sa.pub');
  await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', serviceAccountKey]);
  await openssl(['pkey', '-in', serviceAccountKey, '-pubout', '-out', serviceAccountPublicKey]);
  return { ca, serving, servers, clients: issued, serviceAccountKey, serviceAccountPublicKey };
}

async function issue(dir: string, ca: KeyPair, name: string, subject: string, extensions: readonly string[]): Promise<KeyPair> {
  const pair = { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, ['keyUsage=critical,digitalSignature,keyEncipherment', ...extensions, ''].join('\n'));
  await openssl(['req', '-new', ...newEcKey(pair.keyFile), '-subj', subject, '-out', csr]);
  await openssl(['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial',
    `0x${randomSerial()}`, '-days', '365', '-extfile', ext, '-out', pair.certFile]);
  return pair;
}

/** P-256 keys: fast to generate, and every client here (curl, Go, Python, Node) accepts them. */
function newEcKey(keyFile: string): string[] {
  return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile];
}

function randomSerial(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args.join(' ')} failed: ${stderr || String(error)}`);
  }
}
