// The operator's image as the synthesized install names it. Proxy mode's sidecar runs the same
// image; where the running operator's own setting is not at hand (the cdk8s construct, `preview`),
// this is the default.
import { packageVersion } from '../../manifests/package-root.ts';

export const DEFAULT_IMAGE = 'ghcr.io/api-access-operator/apiaccess';

/** `ghcr.io/api-access-operator/apiaccess:v<package version>`. */
export function defaultOperatorImage(): string {
  return `${DEFAULT_IMAGE}:v${packageVersion()}`;
}
