// Client certificates signed by the cluster's own CA through the CertificateSigningRequest API
// (signer kubernetes.io/kube-apiserver-client), as a platform engineer obtains one: a key and CSR
// made with openssl, the request approved by an admin, signed by kube-controller-manager.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { KubeClient } from '../operator/kube/client.ts';

const run = promisify(execFile);
const CERT_SECONDS = 30 * 86_400;
const SIGN_TIMEOUT_MS = 30_000;

export interface Subject {
  /** The certificate's CN: the user name the API server authenticates. */
  readonly user: string;
  /** O fields: the user's groups. */
  readonly groups?: readonly string[];
}

/** A P-256 key and a certificate for the subject, signed by the cluster's kube-apiserver-client signer (PEM). */
export async function signedClientCertificate(admin: KubeClient, subject: Subject): Promise<{ certificate: Buffer; key: Buffer }> {
  const dir = await mkdtemp(join(tmpdir(), 'apiaccess-csr-'));
  const name = `apiaccess-${subject.user.replace(/[^a-z0-9-]+/g, '-').slice(0, 40)}-${randomBytes(3).toString('hex')}`;
  const path = `/apis/certificates.k8s.io/v1/certificatesigningrequests/${name}`;
  try {
    const keyFile = join(dir, 'tls.key');
    const csrFile = join(dir, 'tls.csr');
    await run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-subj', `${(subject.groups ?? []).map((g) => `/O=${g}`).join('')}/CN=${subject.user}`, '-out', csrFile]);
    await admin.request('POST', '/apis/certificates.k8s.io/v1/certificatesigningrequests', {
      body: {
        apiVersion: 'certificates.k8s.io/v1',
        kind: 'CertificateSigningRequest',
        metadata: { name },
        spec: { request: (await readFile(csrFile)).toString('base64'), signerName: 'kubernetes.io/kube-apiserver-client', usages: ['client auth'], expirationSeconds: CERT_SECONDS },
      },
    });
    const csr = await admin.request<{ status?: object }>('GET', path);
    await admin.request('PUT', `${path}/approval`, {
      body: { ...csr, status: { conditions: [{ type: 'Approved', status: 'True', reason: 'ApiAccessLocalCluster', message: `A client certificate for ${subject.user}` }] } },
    });
    const certificate = await waitForCertificate(admin, path);
    return { certificate, key: await readFile(keyFile) };
  } finally {
    await admin.request('DELETE', path).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

async function waitForCertificate(admin: KubeClient, path: string): Promise<Buffer> {
  const deadline = Date.now() + SIGN_TIMEOUT_MS;
  for (;;) {
    const csr = await admin.request<{ status?: { certificate?: string; conditions?: Array<{ type: string; message?: string }> } }>('GET', path);
    if (csr.status?.certificate) return Buffer.from(csr.status.certificate, 'base64');
    const failed = csr.status?.conditions?.find((c) => c.type === 'Failed' || c.type === 'Denied');
    if (failed) throw new Error(`CertificateSigningRequest ${path} was ${failed.type}: ${failed.message ?? ''}`);
    if (Date.now() > deadline) throw new Error(`kube-controller-manager did not sign ${path} within ${SIGN_TIMEOUT_MS / 1000} s (is --cluster-signing-cert-file set?)`);
    await sleep(200);
  }
}

/** The seed-000 kubeconfig shape: the cluster CA and the client certificate and key embedded. */
export async function certificateKubeconfig(input: { server: string; caFile: string; user: string; certificate: Buffer; key: Buffer }): Promise<string> {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'kubernetes', cluster: { server: input.server, 'certificate-authority-data': (await readFile(input.caFile)).toString('base64') } }],
    contexts: [{ name: `${input.user}@kubernetes`, context: { cluster: 'kubernetes', user: input.user } }],
    'current-context': `${input.user}@kubernetes`,
    preferences: {},
    users: [{ name: input.user, user: { 'client-certificate-data': input.certificate.toString('base64'), 'client-key-data': input.key.toString('base64') } }],
  });
}
