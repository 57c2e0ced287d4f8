// client-go's own examples, unmodified: built from the published k8s.io/client-go module through the
// wrapper module in client-go-examples/ (go.mod, go.sum, tools.go), static and -trimpath, cached
// per wrapper module content.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withLock } from '../kube/build-lock.ts';
import { imagesCacheDir, inputKey } from './cache.ts';
import { runCommand } from './command.ts';

const MODULE_DIR = join(import.meta.dirname, 'client-go-examples');
const MODULE_FILES = ['go.mod', 'go.sum', 'tools.go'];
/** Binary name = last element of the package path (what `go build -o dir/` writes). */
export const CLIENT_GO_EXAMPLES = ['in-cluster-client-configuration', 'out-of-cluster-client-configuration'] as const;

export interface ClientGoExamples {
  readonly version: string;
  /** Folder holding one binary per example. */
  readonly dir: string;
}

export async function ensureClientGoExamples(): Promise<ClientGoExamples> {
  const goMod = await readFile(join(MODULE_DIR, 'go.mod'), 'utf8');
  const version = /^require k8s\.io\/client-go (v\S+)$/m.exec(goMod)?.[1];
  if (!version) throw new Error(`${join(MODULE_DIR, 'go.mod')} has no "require k8s.io/client-go vX.Y.Z" line`);
  const goVersion = (await runCommand('go', ['env', 'GOVERSION'])).trim();
  const key = await inputKey([goVersion, ...(await Promise.all(MODULE_FILES.map((f) => readFile(join(MODULE_DIR, f)))))], ['client-go-examples.ts']);
  const dir = join(imagesCacheDir(), `client-go-examples-${version}-${key}`);
  const built = (): boolean => CLIENT_GO_EXAMPLES.every((name) => existsSync(join(dir, name)));
  if (built()) return { version, dir };
  await mkdir(imagesCacheDir(), { recursive: true });
  return withLock(join(imagesCacheDir(), '.lock-client-go'), async () => {
    if (!built()) await build(version, dir);
    return { version, dir };
  });
}

async function build(version: string, dir: string): Promise<void> {
  process.stderr.write(`[images] Building client-go ${version} examples ${CLIENT_GO_EXAMPLES.join(', ')} (once)\n`);
  const work = await mkdtemp(join(tmpdir(), 'apiaccess-client-go-'));
  const out = `${dir}.tmp-${process.pid}`;
  try {
    for (const file of MODULE_FILES) await copyFile(join(MODULE_DIR, file), join(work, file));
    await rm(out, { recursive: true, force: true });
    await mkdir(out, { recursive: true });
    const packages = CLIENT_GO_EXAMPLES.map((name) => `k8s.io/client-go/examples/${name}`);
    await runCommand('go', ['build', '-trimpath', '-o', `${out}/`, ...packages], {
      cwd: work,
      env: { ...process.env, CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly -buildvcs=false' },
    });
    await rm(dir, { recursive: true, force: true });
    await rename(out, dir);
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(out, { recursive: true, force: true });
  }
}
