// Loads an image archive into a containerd's `k8s.io` namespace (the one the kubelet's CRI uses),
// skipping the import when that reference already points at the archive's manifest digest.
import { runCommand } from './command.ts';

export interface ImportOptions {
  /** containerd snapshotter to unpack into (ctr's default: overlayfs). */
  readonly snapshotter?: string;
}

interface ArchiveIndex {
  manifests?: { digest?: string; annotations?: Record<string, string> }[];
}

export async function importImage(archive: string, containerdAddress: string, options: ImportOptions = {}): Promise<void> {
  const { ref, digest } = await archiveReference(archive);
  if ((await importedDigest(ref, containerdAddress)) === digest) return;
  const unpack = options.snapshotter ? ['--snapshotter', options.snapshotter] : [];
  await runCommand('ctr', ['--address', containerdAddress, '-n', 'k8s.io', 'images', 'import', ...unpack, archive]);
  const now = await importedDigest(ref, containerdAddress);
  if (now !== digest) throw new Error(`ctr images import ${archive} left ${ref} at ${now ?? 'nothing'}, expected ${digest}`);
}

/** The reference and manifest digest named by the archive's index.json. */
export async function archiveReference(archive: string): Promise<{ ref: string; digest: string }> {
  const index = JSON.parse(await runCommand('tar', ['-xOf', archive, 'index.json'])) as ArchiveIndex;
  const manifest = index.manifests?.[0];
  const ref = manifest?.annotations?.['io.containerd.image.name'];
  if (!ref || !manifest?.digest) throw new Error(`${archive} has no index.json manifest with an io.containerd.image.name annotation`);
  return { ref, digest: manifest.digest };
}

async function importedDigest(ref: string, containerdAddress: string): Promise<string | undefined> {
  const out = await runCommand('ctr', ['--address', containerdAddress, '-n', 'k8s.io', 'images', 'ls', `name==${ref}`]);
  for (const line of out.split('\n').slice(1)) {
    const [name, , digest] = line.trim().split(/\s+/);
    if (name === ref) return digest;
  }
  return undefined;
}
