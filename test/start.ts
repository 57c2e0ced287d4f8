// `npm start`: the operator on its embedded default. Brings up the local control plane (never a
// cluster of the user's: KUBECONFIG and ~/.kube/config are not read), installs the CRD and RBAC from
// the synthesized manifests, applies the examples, and runs the operator in the foreground as its
// own ServiceAccount with readable logs.
import { join } from 'node:path';
import { main } from '../operator/cli.ts';
import { clusterDir, ensureUp } from './cluster/local.ts';
import { applyAll, installOperator, manifest, writeOperatorKubeconfig } from './install.ts';

const dir = clusterDir();
const info = await ensureUp(dir);
await installOperator(info);
await applyAll(info.kubeconfigs.admin, manifest('examples.k8s.yaml'));
const kubeconfig = await writeOperatorKubeconfig(info, join(dir, 'operator.kubeconfig'));
const admin = info.kubeconfigs.admin;

console.log(`
Installed the CRD, the operator's RBAC and the examples (namespace apiaccess-examples).
The operator runs below as ServiceAccount apiaccess-system/apiaccess-operator. In another terminal:

  export KUBECONFIG=${admin}
  kubectl get aap -A                                   # profiles: Auth, ServiceAccount, Bound, Ready
  kubectl describe aap kip-network-agent -n apiaccess-examples
  kubectl create deployment web --image=nginx -n apiaccess-examples
  kubectl label deployment web -n apiaccess-examples apiaccess.dev/profile=config-agent
  kubectl get deployment web -n apiaccess-examples -o yaml   # serviceAccountName, volume, KUBECONFIG
  npx apiaccess doctor --kubeconfig ${admin}

Ctrl-C stops the operator; \`npm run cluster -- down\` stops the control plane.
`);
process.exitCode = await main([
  process.argv[0] ?? 'node',
  'apiaccess',
  'run',
  '--kubeconfig',
  kubeconfig,
  '--log-format',
  'pretty',
  '--metrics-bind-address',
  '127.0.0.1:0',
  '--health-probe-bind-address',
  '127.0.0.1:0',
]);
