// Where built images are cached (APIACCESS_CACHE_DIR/images, default ~/.cache/apiaccess/images), and
// the keys that decide whether a cached archive is still the one its inputs give.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cacheDir } from '../kube/build.ts';
import type { BuiltImage } from './oci.ts';

export function imagesCacheDir(): string {
  return join(cacheDir(), 'images');
}

/** The image writer's own sources are inputs too: a change to the tar or OCI code rebuilds every image. */
const WRITER_SOURCES = ['tar.ts', 'oci.ts', 'cache.ts'];

/** A short hex key over the given inputs and the sources of the image writer plus `builderSources`. */
export async function inputKey(inputs: readonly (string | Buffer)[], builderSources: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const file of [...WRITER_SOURCES, ...builderSources]) hash.update(await readFile(join(import.meta.dirname, file))).update('\0');
  for (const input of inputs) hash.update(input).update('\0');
  return hash.digest('hex').slice(0, 16);
}

/** The metadata file written beside an archive once it is complete; its presence marks a cache hit. */
export function metadataFile(archive: string): string {
  return `${archive}.json`;
}

/** The image recorded beside `archive` when it was built from inputs with this key; undefined otherwise. */
export async function readBuiltImage(archive: string, key: string): Promise<BuiltImage | undefined> {
  try {
    const recorded = JSON.parse(await readFile(metadataFile(archive), 'utf8')) as BuiltImage & { inputKey?: string };
    if (recorded.inputKey !== key || !existsSync(archive)) return undefined;
    const { inputKey: _, ...image } = recorded;
    return image;
  } catch {
    return undefined;
  }
}

export async function writeBuiltImage(image: BuiltImage, key: string): Promise<void> {
  await writeFile(metadataFile(image.archive), `${JSON.stringify({ ...image, inputKey: key }, null, 2)}\n`);
}

/** Removes the other archives (and their metadata) of one image family, e.g. older `clients-*.oci.tar`. */
export async function removeOtherArchives(keep: string, prefix: string): Promise<void> {
  const dir = dirname(keep);
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    if (name.startsWith(prefix) && path !== keep && path !== metadataFile(keep)) await rm(path, { force: true });
  }
}
