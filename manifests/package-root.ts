// Files of the package itself (package.json, crds/*.yaml), found from both the TypeScript sources
// (manifests/) and the compiled JavaScript (dist/manifests/): the nearest folder above this module
// that holds a package.json is the package root.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function packageRoot(from: string = import.meta.dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json in ${from} or any folder above it`);
  }
}

/** `version` of the package's package.json, e.g. 0.1.0. */
export function packageVersion(): string {
  const file = join(packageRoot(), 'package.json');
  const { version } = JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown };
  if (typeof version !== 'string' || version === '') throw new Error(`${file} has no version`);
  return version;
}
