// The operator image as users get it: the reference the synthesized Deployment names, non-root,
// reproducible, and working on a read-only root filesystem as uid 65532 (the Deployment's
// securityContext), with Node.js 24 and no TypeScript loader.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildOperatorImage, ensureOperatorImage } from './operator-image.ts';
import type { BuiltImage } from './oci.ts';
import { runReadOnly, unpackRootfs } from './rootfs.ts';

const SYNTHESIZED = join(import.meta.dirname, '..', '..', 'manifests', 'dist', 'operator.k8s.yaml');
const PACKAGE_JSON = join(import.meta.dirname, '..', '..', 'package.json');
const ENV = ['PATH=/usr/local/bin:/usr/bin:/bin', 'POD_NAMESPACE=apiaccess-system'];
const isRoot = process.getuid?.() === 0;
const work = mkdtempSync(join(tmpdir(), 'apiaccess-operator-image-test-'));
let image: BuiltImage;

before(async () => {
  image = await ensureOperatorImage();
});
after(() => rmSync(work, { recursive: true, force: true }));

interface ImageConfig {
  config: { User: string; Entrypoint: string[]; Env: string[]; Labels: Record<string, string> };
}

function imageConfig(archive: string): ImageConfig {
  const [docker] = JSON.parse(execFileSync('tar', ['-xOf', archive, 'manifest.json'], { encoding: 'utf8' })) as { Config: string }[];
  return JSON.parse(execFileSync('tar', ['-xOf', archive, docker?.Config ?? ''], { encoding: 'utf8' })) as ImageConfig;
}

describe('operator image', () => {
  it('is the image the synthesized Deployment runs, as 65532:65532', () => {
    const { version } = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string };
    assert.equal(image.ref, `ghcr.io/api-access-operator/apiaccess:v${version}`);
    assert.ok(readFileSync(SYNTHESIZED, 'utf8').includes(`image: ${image.ref}\n`), `${SYNTHESIZED} does not name ${image.ref}`);
    const { config } = imageConfig(image.archive);
    assert.equal(config.User, '65532:65532');
    assert.deepEqual(config.Entrypoint, ['/usr/local/bin/apiaccess']);
    assert.equal(config.Labels['org.opencontainers.image.licenses'], 'Apache-2.0');
    assert.match(config.Labels['dev.apiaccess.node-version'] ?? '', /^24\./);
  });

  it('has the same digest when built again from the same inputs', async () => {
    const again = await buildOperatorImage(join(work, 'again.oci.tar'));
    assert.equal(again.digest, image.digest);
  });

  describe('on a read-only root filesystem as uid 65532', { skip: isRoot ? false : 'needs root (mount namespace, chroot)' }, () => {
    let rootfs: string;
    before(async () => {
      rootfs = await unpackRootfs(image.archive, work);
      writeFileSync(join(rootfs, 'unreachable.kubeconfig'), UNREACHABLE_KUBECONFIG);
    });

    it('runs `apiaccess --help` on Node.js 24 without a TypeScript loader', async () => {
      const help = await runReadOnly(rootfs, '65532:65532', ['apiaccess', '--help'], ENV);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /^Usage: apiaccess /);
      const node = await runReadOnly(rootfs, '65532:65532', ['node', '-p', 'process.version'], ENV);
      assert.match(node.stdout, /^v24\./);
      assert.equal(execFileSync('find', [join(rootfs, 'usr/local/lib/apiaccess/node_modules'), '-maxdepth', '1', '-name', 'tsx'], { encoding: 'utf8' }), '');
    });

    it('runs `apiaccess doctor`, which reports the missing configuration instead of failing to write', async () => {
      const doctor = await runReadOnly(rootfs, '65532:65532', ['apiaccess', 'doctor'], ENV);
      assert.equal(doctor.code, 1, doctor.stderr);
      assert.match(doctor.stdout, /config-source\s+FAIL/);
      assert.doesNotMatch(doctor.stderr, /EROFS|EACCES/);
    });

    it('starts `apiaccess run`: probes and metrics served, the API retried, nothing written', async () => {
      const run = await runReadOnly(rootfs, '65532:65532', ['apiaccess', 'run', '--kubeconfig', '/unreachable.kubeconfig', '--log-format', 'json', '--metrics-bind-address', '127.0.0.1:0', '--health-probe-bind-address', '127.0.0.1:0'], ENV, 4_000);
      assert.match(run.stdout, /"msg":"Serving health probes"/, run.stderr);
      assert.match(run.stdout, /"msg":"Serving metrics"/);
      assert.match(run.stdout, /ECONNREFUSED 127\.0\.0\.1:1/);
      assert.doesNotMatch(run.stdout + run.stderr, /EROFS|EACCES/);
    });
  });
});

const UNREACHABLE_KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "https://127.0.0.1:1", insecure-skip-tls-verify: true } }]
users: [{ name: u, user: { token: not-a-secret } }]
contexts: [{ name: c, context: { cluster: c, user: u } }]
current-context: c
`;
