// `npm start`: the product on its embedded default, as a user runs it. Brings up the local cluster
// (control plane and a real node; never a cluster of the user's: KUBECONFIG and ~/.kube/config are
// not read), builds the operator and clients images and loads them into the node, `kubectl apply`s
// the CRD, the synthesized install and the examples, waits until the operator Deployment is
// Available and a replica holds the leader Lease, then follows the leader's logs. Ctrl-C stops
// following; the cluster keeps running until `npm run cluster -- down`.
import { spawn } from 'node:child_process';
import pretty from 'pino-pretty';
import { EXAMPLES_IMAGE, EXAMPLES_NAMESPACE } from '../manifests/examples.ts';
import { serverKubectl } from './clients.ts';
import { clusterDir, ensureUp } from './cluster/local.ts';
import { adminClientFor, OPERATOR_NAMESPACE, waitForOperator } from './install.ts';
import { installAsAUser } from './user-install.ts';

const started = Date.now();
const info = await ensureUp(clusterDir());
const kubectlBin = await serverKubectl();
const { leader, output } = await installAsAUser(info, { examples: true });
console.log(output);
const admin = adminClientFor(info);
console.log(`
The operator runs as Pod ${OPERATOR_NAMESPACE}/${leader} (the leader; ${((Date.now() - started) / 1000).toFixed(0)} s after start).
The examples run in namespace ${EXAMPLES_NAMESPACE} on ${EXAMPLES_IMAGE}. In another terminal:

  export KUBECONFIG=${info.kubeconfigs.admin}
  alias kubectl=${kubectlBin}
  kubectl get aap -A                                   # profiles: Auth, ServiceAccount, Bound, Ready
  kubectl logs -n ${EXAMPLES_NAMESPACE} deploy/pod-reader      # the seed-004 curl, answered by the API
  kubectl describe aap kip-network-agent -n ${EXAMPLES_NAMESPACE}

Following the leader's logs below; Ctrl-C stops following (the cluster keeps running:
\`npm run cluster -- down\` stops it).
`);

let stopping = false;
process.once('SIGINT', () => {
  stopping = true;
});
for (let pod = leader; !stopping; pod = await waitForOperator(admin)) {
  await followLogs(pod);
  if (!stopping) console.log(`[start] The log stream of ${pod} ended; following the next leader`);
}
admin.close();

/** `kubectl logs -f` of one operator Pod, printed readably; resolves when the stream ends. */
async function followLogs(pod: string): Promise<void> {
  const child = spawn(kubectlBin, ['logs', '--follow', '-n', OPERATOR_NAMESPACE, pod], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', KUBECONFIG: info.kubeconfigs.admin },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.stdout.pipe(pretty({ colorize: process.stdout.isTTY, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' }));
  await new Promise<void>((resolve) => child.once('close', () => resolve()));
}
