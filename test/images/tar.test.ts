// The image writer: the same inputs give the same bytes whatever the checkout's modes, long paths
// survive, and the archive has the layout containerd, skopeo and docker read.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { writeImageArchive } from './oci.ts';
import { tarStream, treeEntries, type TarEntry } from './tar.ts';

const work = mkdtempSync(join(tmpdir(), 'apiaccess-tar-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

const LONG = `${'deep/'.repeat(30)}file-with-a-name-longer-than-ustar-allows.js`;

function fixture(name: string, fileMode: number, execMode: number, mtime: number): string {
  const root = join(work, name);
  mkdirSync(join(root, LONG, '..'), { recursive: true });
  writeFileSync(join(root, LONG), 'long\n');
  writeFileSync(join(root, 'b.txt'), 'b\n', { mode: fileMode });
  chmodSync(join(root, 'b.txt'), fileMode);
  writeFileSync(join(root, 'a.sh'), '#!/bin/sh\n');
  chmodSync(join(root, 'a.sh'), execMode);
  symlinkSync('b.txt', join(root, 'link'));
  for (const file of ['b.txt', 'a.sh', LONG]) utimesSync(join(root, file), mtime, mtime);
  return root;
}

async function tarBytes(entries: TarEntry[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of Readable.from(tarStream(entries, 0))) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('deterministic tar', () => {
  it('gives identical bytes for trees that differ only in modes, umask and mtimes', async () => {
    const a = await tarBytes(await treeEntries(fixture('a', 0o600, 0o700, 1_000)));
    const b = await tarBytes(await treeEntries(fixture('b', 0o664, 0o775, 2_000_000_000)));
    assert.ok(a.equals(b));
  });

  it('is read back by GNU tar with long paths, symlinks, sorted order, uid 0 and normalised modes', async () => {
    const file = join(work, 'list.tar');
    writeFileSync(file, await tarBytes(await treeEntries(fixture('c', 0o600, 0o700, 1_000), { prefix: 'usr/lib/x' })));
    const listing = execFileSync('tar', ['--numeric-owner', '-tvf', file], { encoding: 'utf8' }).trim().split('\n');
    const paths = listing.map((line) => line.split(/\s+/).slice(5).join(' '));
    assert.deepEqual(paths.slice(0, 5), ['usr/', 'usr/lib/', 'usr/lib/x/', 'usr/lib/x/a.sh', 'usr/lib/x/b.txt']);
    assert.ok(paths.includes(`usr/lib/x/${LONG}`), `long path missing from ${paths.join(', ')}`);
    assert.ok(paths.includes('usr/lib/x/link -> b.txt'));
    assert.match(listing.find((l) => l.endsWith('/a.sh')) ?? '', /^-rwxr-xr-x 0\/0 .* 1970-01-01 00:00 /);
    assert.match(listing.find((l) => l.endsWith('/b.txt')) ?? '', /^-rw-r--r-- 0\/0 /);
    const extracted = join(work, 'extracted');
    mkdirSync(extracted);
    execFileSync('tar', ['-xf', file, '-C', extracted]);
    assert.equal(readFileSync(join(extracted, 'usr/lib/x', LONG), 'utf8'), 'long\n');
  });
});

describe('OCI archive', () => {
  it('names the reference in index.json and manifest.json and gives the same digest twice', async () => {
    const entries = await treeEntries(fixture('d', 0o644, 0o755, 1_000));
    const build = (out: string): ReturnType<typeof writeImageArchive> =>
      writeImageArchive('registry.example.com/team/app:v1', join(work, out), [{ description: 'fixture', entries }], { user: '65532:65532', entrypoint: ['/a.sh'] });
    const first = await build('one.tar');
    const second = await build('two.tar');
    assert.equal(first.digest, second.digest);
    assert.ok(readFileSync(first.archive).equals(readFileSync(second.archive)));
    const index = JSON.parse(execFileSync('tar', ['-xOf', first.archive, 'index.json'], { encoding: 'utf8' })) as { manifests: { digest: string; annotations: Record<string, string> }[] };
    assert.equal(index.manifests[0]?.digest, first.digest);
    assert.deepEqual(index.manifests[0]?.annotations, { 'io.containerd.image.name': 'registry.example.com/team/app:v1', 'org.opencontainers.image.ref.name': 'registry.example.com/team/app:v1' });
    const docker = JSON.parse(execFileSync('tar', ['-xOf', first.archive, 'manifest.json'], { encoding: 'utf8' })) as { RepoTags: string[]; Config: string }[];
    assert.deepEqual(docker[0]?.RepoTags, ['registry.example.com/team/app:v1']);
    const config = JSON.parse(execFileSync('tar', ['-xOf', first.archive, docker[0]?.Config ?? ''], { encoding: 'utf8' })) as { config: { User: string } };
    assert.equal(config.config.User, '65532:65532');
    assert.equal(execFileSync('tar', ['-xOf', first.archive, 'oci-layout'], { encoding: 'utf8' }), '{"imageLayoutVersion":"1.0.0"}');
  });

  it('refuses a reference without registry and tag, naming it', async () => {
    await assert.rejects(writeImageArchive('apiaccess', join(work, 'bad.tar'), [], { user: '0:0' }), /image reference "apiaccess" is not of the form registry\/repository:tag/);
  });
});
