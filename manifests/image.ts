// The operator image's reference, in a module of its own so that the CLI (`doctor --pod`) can name
// the image the synthesized install runs without loading cdk8s.
import { packageVersion } from './package-root.ts';

export const DEFAULT_IMAGE = 'ghcr.io/api-access-operator/apiaccess';

/** `ghcr.io/api-access-operator/apiaccess:v<package version>`: what manifests/dist/operator.k8s.yaml names. */
export function defaultOperatorImage(): string {
  return `${DEFAULT_IMAGE}:v${packageVersion()}`;
}
