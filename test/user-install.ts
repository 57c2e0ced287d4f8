// The install on the local cluster exactly as a user performs it, shared by `npm start` and the test
// runner: the images are loaded into the node (no registry here), then `kubectl apply` of the CRD
// folder and the synthesized install (and the examples), then the wait a user does by hand — the
// Deployment Available and a replica holding the leader Lease.
import type { ClusterInfo } from './cluster/cluster-info.ts';
import { runProgram, serverKubectl, type ProcessResult } from './clients.ts';
import { localExamplesYaml } from './examples.ts';
import { loadImages } from './images/local-node.ts';
import { adminClientFor, INSTALL_FILES, kubectlApply, waitForAuthorGuard, waitForOperator } from './install.ts';

export interface UserInstall {
  /** Name of the operator Pod that holds the leader Lease. */
  readonly leader: string;
  /** What kubectl printed, for people. */
  readonly output: string;
}

export async function installAsAUser(info: ClusterInfo, options: { examples: boolean }): Promise<UserInstall> {
  const binary = await serverKubectl();
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', KUBECONFIG: info.kubeconfigs.admin };
  const kubectl = async (args: readonly string[], opts: { input?: string } = {}): Promise<ProcessResult> => await runProgram(binary, args, { env, timeoutMs: 180_000, ...opts });
  const admin = adminClientFor(info);
  try {
    if ((await loadImages(info)).containerdAddress === undefined) throw new Error(`The cluster in ${info.dir} has no node: start it without --no-node`);
    let output = await kubectlApply(kubectl, INSTALL_FILES);
    const established = await kubectl(['wait', '--for=condition=Established', 'crd/apiaccessprofiles.apiaccess.dev', '--timeout=60s']);
    if (established.code !== 0) throw new Error(`The ApiAccessProfile CRD did not become Established: ${established.stderr}`);
    await waitForAuthorGuard(admin);
    if (options.examples) output += await kubectlApply(kubectl, { yaml: await localExamplesYaml(info, admin) });
    return { leader: await waitForOperator(admin), output };
  } finally {
    admin.close();
  }
}
