// Loads the images into the node of the local cluster (`npm run cluster -- up` writes
// `<cluster dir>/cluster.json`; its `node.containerdAddress` names the node's containerd socket).
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ensureClientsImage } from './clients-image.ts';
import { importImage } from './load.ts';
import type { BuiltImage } from './oci.ts';
import { ensureOperatorImage } from './operator-image.ts';
import { ensurePauseImage } from './pause.ts';

export interface LocalImages {
  readonly operator: BuiltImage;
  readonly clients: BuiltImage;
  /** The containerd socket the images were imported into; undefined when no node runs. */
  readonly containerdAddress: string | undefined;
}

/** APIACCESS_CLUSTER_DIR, default .local/cluster in the checkout (as test/cluster does). */
export function clusterDir(): string {
  return process.env.APIACCESS_CLUSTER_DIR ?? join(resolve(import.meta.dirname, '..', '..'), '.local', 'cluster');
}

/** The node's containerd socket from cluster.json, read defensively: undefined without a cluster or a node. */
export async function containerdAddress(dir: string = clusterDir()): Promise<string | undefined> {
  const text = await readFile(join(dir, 'cluster.json'), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const address = (JSON.parse(text) as { node?: { containerdAddress?: unknown } }).node?.containerdAddress;
    return typeof address === 'string' && address !== '' ? address : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Builds (or reuses) the operator and clients images and imports them, with the pause image, into
 * the cluster's node; an image already there under the same digest is skipped.
 */
export async function loadImages(cluster: { readonly dir: string } = { dir: clusterDir() }): Promise<LocalImages> {
  const operator = await ensureOperatorImage();
  const clients = await ensureClientsImage();
  const address = addressFromInfo(cluster) ?? (await containerdAddress(cluster.dir));
  if (address !== undefined) {
    await importImage((await ensurePauseImage()).archive, address);
    await importImage(operator.archive, address);
    await importImage(clients.archive, address);
  }
  return { operator, clients, containerdAddress: address };
}

function addressFromInfo(cluster: object): string | undefined {
  const address = (cluster as { node?: { containerdAddress?: unknown } }).node?.containerdAddress;
  return typeof address === 'string' && address !== '' ? address : undefined;
}
