// Writes a container image as an OCI image layout inside one tar file (what `skopeo copy
// oci-archive:`, `ctr images import` and `crane push` read), with a docker-compatible manifest.json
// beside it so `docker load -i` accepts the same file. Everything is derived from the layer entries
// and the image config, so the same inputs give the same manifest digest.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants, createGzip } from 'node:zlib';
import { parentDirs, sourceDateEpoch, tarStream, type TarEntry } from './tar.ts';

export interface ImageConfig {
  readonly user: string;
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly env?: readonly string[];
  readonly workingDir?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface LayerSpec {
  /** What the layer holds, for the image history (`created_by`). */
  readonly description: string;
  /** Sorted entries; see mergeEntries. */
  readonly entries: readonly TarEntry[];
}

export interface BuiltImage {
  readonly ref: string;
  readonly archive: string;
  /** Digest of the image manifest: what a registry and `ctr images ls` show for the reference. */
  readonly digest: string;
  /** Digest of the image config: the image ID the kubelet and crictl show. */
  readonly configDigest: string;
  /** Sum of the compressed layers, the config and the manifest. */
  readonly compressedBytes: number;
  /** Sum of the uncompressed layer tars. */
  readonly uncompressedBytes: number;
}

interface Blob {
  readonly digest: string;
  readonly size: number;
  readonly file: string;
}

interface Layer extends Blob {
  readonly diffId: string;
  readonly uncompressedSize: number;
  readonly description: string;
}

const MEDIA_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const MEDIA_CONFIG = 'application/vnd.oci.image.config.v1+json';
const MEDIA_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const MEDIA_INDEX = 'application/vnd.oci.image.index.v1+json';
/** Fast enough for ~130 MB of Node.js on a busy 2-core machine. */
const GZIP_LEVEL = 6;

export interface WriteOptions {
  /** zlib level of the layers; any level is deterministic. Default 6; 1 for big test-only images. */
  readonly gzipLevel?: number;
}

/** Builds the image into `archive` (written atomically through a temporary file beside it). */
export async function writeImageArchive(ref: string, archive: string, layers: readonly LayerSpec[], config: ImageConfig, options: WriteOptions = {}): Promise<BuiltImage> {
  assertReference(ref);
  await mkdir(dirname(archive), { recursive: true });
  const work = await mkdtemp(join(dirname(archive), '.build-'));
  try {
    const epoch = sourceDateEpoch();
    const built: Layer[] = [];
    for (const [i, layer] of layers.entries()) built.push(await writeLayer(join(work, `layer-${i}`), layer, epoch, options.gzipLevel ?? GZIP_LEVEL));
    const configBlob = await writeJsonBlob(join(work, 'config.json'), imageConfigJson(built, config, epoch));
    const manifest = {
      schemaVersion: 2,
      mediaType: MEDIA_MANIFEST,
      config: { mediaType: MEDIA_CONFIG, digest: configBlob.digest, size: configBlob.size },
      layers: built.map((l) => ({ mediaType: MEDIA_LAYER, digest: l.digest, size: l.size })),
    };
    const manifestBlob = await writeJsonBlob(join(work, 'manifest.json'), manifest);
    const blobs = [...built, configBlob, manifestBlob];
    const tmp = join(work, 'image.tar');
    await pipeline(Readable.from(tarStream(archiveEntries(ref, blobs, manifestBlob, configBlob, built), epoch)), createWriteStream(tmp));
    await rename(tmp, archive);
    return {
      ref,
      archive,
      digest: manifestBlob.digest,
      configDigest: configBlob.digest,
      compressedBytes: blobs.reduce((sum, b) => sum + b.size, 0),
      uncompressedBytes: built.reduce((sum, l) => sum + l.uncompressedSize, 0),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Only fully qualified references (registry/repository:tag): containerd imports them verbatim. */
function assertReference(ref: string): void {
  if (!/^[a-z0-9.-]+(:[0-9]+)?\/[a-z0-9._/-]+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(ref)) {
    throw new Error(`image reference ${JSON.stringify(ref)} is not of the form registry/repository:tag`);
  }
}

function imageConfigJson(layers: readonly Layer[], config: ImageConfig, epoch: number): object {
  const created = new Date(epoch * 1000).toISOString().replace(/\.000Z$/, 'Z');
  return {
    created,
    architecture: 'amd64',
    os: 'linux',
    config: {
      User: config.user,
      ...(config.env ? { Env: config.env } : {}),
      ...(config.entrypoint ? { Entrypoint: config.entrypoint } : {}),
      ...(config.cmd ? { Cmd: config.cmd } : {}),
      ...(config.workingDir ? { WorkingDir: config.workingDir } : {}),
      ...(config.labels ? { Labels: config.labels } : {}),
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l) => ({ created, created_by: l.description })),
  };
}

function archiveEntries(ref: string, blobs: readonly Blob[], manifest: Blob, config: Blob, layers: readonly Layer[]): TarEntry[] {
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA_INDEX,
    manifests: [
      {
        mediaType: MEDIA_MANIFEST,
        digest: manifest.digest,
        size: manifest.size,
        platform: { architecture: 'amd64', os: 'linux' },
        annotations: { 'io.containerd.image.name': ref, 'org.opencontainers.image.ref.name': ref },
      },
    ],
  };
  const dockerManifest = [{ Config: blobPath(config), RepoTags: [ref], Layers: layers.map(blobPath) }];
  const unique = [...new Map(blobs.map((b) => [b.digest, b])).values()].sort((a, b) => a.digest.localeCompare(b.digest));
  return [
    ...parentDirs('blobs/sha256'),
    ...unique.map((b): TarEntry => ({ type: 'file', path: blobPath(b), mode: 0o644, size: b.size, content: () => createReadStream(b.file) })),
    jsonEntry('index.json', index),
    jsonEntry('manifest.json', dockerManifest),
    jsonEntry('oci-layout', { imageLayoutVersion: '1.0.0' }),
  ];
}

function blobPath(blob: Blob): string {
  return `blobs/sha256/${blob.digest.slice('sha256:'.length)}`;
}

function jsonEntry(path: string, value: unknown): TarEntry {
  const content = Buffer.from(JSON.stringify(value));
  return { type: 'file', path, mode: 0o644, size: content.length, content };
}

async function writeJsonBlob(file: string, value: unknown): Promise<Blob> {
  const content = Buffer.from(JSON.stringify(value));
  await pipeline(Readable.from([content]), createWriteStream(file));
  return { digest: `sha256:${createHash('sha256').update(content).digest('hex')}`, size: content.length, file };
}

async function writeLayer(file: string, layer: LayerSpec, epoch: number, level: number): Promise<Layer> {
  const raw = new HashingStream();
  const compressed = new HashingStream();
  await pipeline(Readable.from(tarStream(layer.entries, epoch)), raw, createGzip({ level, strategy: constants.Z_DEFAULT_STRATEGY }), compressed, createWriteStream(file));
  const size = (await stat(file)).size;
  return { digest: compressed.digest(), size, file, diffId: raw.digest(), uncompressedSize: raw.bytes, description: layer.description };
}

class HashingStream extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}
