// The Kubernetes version the local cluster is built from: the `require k8s.io/kubernetes vX` line of
// the wrapper module in test/kube/kubernetes (so images follow the cluster when it is upgraded).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from './command.ts';

const GO_MOD = join(import.meta.dirname, '..', 'kube', 'kubernetes', 'go.mod');

export async function kubernetesVersion(): Promise<string> {
  const text = await readFile(GO_MOD, 'utf8');
  const match = /^\s*(?:require\s+)?k8s\.io\/kubernetes\s+(v\d+\.\d+\.\d+)\s*$/m.exec(text);
  if (!match?.[1]) throw new Error(`no "require k8s.io/kubernetes vX.Y.Z" line in ${GO_MOD}`);
  return match[1];
}

/** The source folder of a Go module version in the module cache, downloading it through the module proxy if needed. */
export async function goModuleDir(module: string, version: string): Promise<string> {
  const out = await runCommand('go', ['mod', 'download', '-json', `${module}@${version}`], { cwd: '/', env: { ...process.env, GOFLAGS: '-mod=mod' } });
  const info = JSON.parse(out) as { Dir?: string; Error?: string };
  if (!info.Dir) throw new Error(`go mod download ${module}@${version} gave no module folder${info.Error ? `: ${info.Error}` : ''}`);
  return info.Dir;
}
