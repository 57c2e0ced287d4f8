// `npm run image`: builds the operator image (an OCI archive under .local/images/, its path printed
// last) and the test clients image, and imports both into the local cluster's node when one runs.
import { loadImages } from './local-node.ts';
import type { BuiltImage } from './oci.ts';

const started = Date.now();
const { operator, clients, containerdAddress } = await loadImages();
console.log(describe(clients));
console.log(describe(operator));
console.log(
  containerdAddress === undefined
    ? 'No local node runs (no node.containerdAddress in the cluster\'s cluster.json): nothing imported'
    : `Imported both into the node's containerd at ${containerdAddress} (namespace k8s.io)`,
);
console.log(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(operator.archive);

function describe(image: BuiltImage): string {
  const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
  return `${image.ref} ${image.digest} (${mb(image.compressedBytes)} compressed, ${mb(image.uncompressedBytes)} uncompressed): ${image.archive}`;
}
