// The test clients image holds each foreign client, runnable by a non-root uid: curl, kubectl of the
// cluster's version, the Python client, client-node importable from the working directory, and
// client-go's two examples.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLIENTS_IMAGE_REF, CLIENTS_NONROOT_UID, CLIENTS_WORKDIR, ensureClientsImage } from './clients-image.ts';
import { kubernetesVersion } from './kubernetes-version.ts';
import { runReadOnly, unpackRootfs } from './rootfs.ts';

const isRoot = process.getuid?.() === 0;
const ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/tmp'];
const USER = `${CLIENTS_NONROOT_UID}:${CLIENTS_NONROOT_UID}`;
const work = mkdtempSync(join(tmpdir(), 'apiaccess-clients-image-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

describe(`${CLIENTS_IMAGE_REF} as uid ${CLIENTS_NONROOT_UID}`, { skip: isRoot ? false : 'needs root (debootstrap, mount namespace, chroot)' }, () => {
  let rootfs: string;
  const sh = (script: string): ReturnType<typeof runReadOnly> => runReadOnly(rootfs, USER, ['sh', '-c', `cd ${CLIENTS_WORKDIR} && ${script}`], ENV);
  before(async () => {
    rootfs = await unpackRootfs((await ensureClientsImage()).archive, work);
  });

  it('has curl with TLS and kubectl of the cluster\'s version', async () => {
    const curl = await sh('curl --version');
    assert.match(curl.stdout, /^curl \d+\.\d+.* OpenSSL\//, curl.stderr);
    const kubectl = await sh('kubectl version --client');
    assert.match(kubectl.stdout, new RegExp(`Client Version: ${(await kubernetesVersion()).replace(/\./g, '\\.')}\\n`), kubectl.stderr);
  });

  it('has python3 with the kubernetes package', async () => {
    const python = await sh('python3 -c "import kubernetes.config, kubernetes.client; print(kubernetes.__version__)"');
    assert.equal(python.code, 0, python.stderr);
    assert.match(python.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  it('has Node.js 24 with @kubernetes/client-node importable from the working directory', async () => {
    const node = await sh(`node --input-type=module -e "import { KubeConfig, CoreV1Api } from '@kubernetes/client-node'; console.log(process.version, typeof KubeConfig, typeof CoreV1Api)"`);
    assert.match(node.stdout, /^v24\.\d+\.\d+ function function\n$/, node.stderr);
  });

  it('has client-go\'s in-cluster and out-of-cluster examples', async () => {
    const inCluster = await sh('in-cluster-client-configuration');
    assert.match(inCluster.stderr, /unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined/);
    const outOfCluster = await sh('out-of-cluster-client-configuration -h');
    assert.match(outOfCluster.stderr, /-kubeconfig string/);
  });
});
