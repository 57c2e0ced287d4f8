// `apiaccess doctor [--kubeconfig F] [-n NS] [--can VERB RESOURCE[.GROUP]]... [--json]
//                   [--pod NAME [--container C] [--image REF] [--timeout S]]`
// Exit 0 when no check fails (warnings allowed), 1 when one fails (or --pod cannot run doctor), 2 on
// bad usage. The checks are loaded only when the command runs (see operator/cli.ts).
import { Command, InvalidArgumentError } from 'commander';

export interface DoctorFlags {
  kubeconfig?: string;
  namespace?: string;
  can?: string[];
  json?: boolean;
  pod?: string;
  container?: string;
  image?: string;
  timeout?: number;
}

export function doctorCommand(): Command {
  return (
    new Command('doctor')
      .description(
        'Diagnose API access from where it runs (inside a pod or not): an ordered chain of checks, each with a verdict and a remedy. ' +
          'In Proxy mode (server http://127.0.0.1:<port>) it checks the apiaccess-proxy sidecar and, for --can get/list/watch, makes the real request through it. ' +
          'With --pod it runs inside that Pod instead, as an ephemeral container of the operator image with the target container\'s env and mounts.',
      )
      .option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, in-cluster, then ~/.kube/config, as `apiaccess run`); with --pod, the one that reaches the Pod (never forwarded into it)')
      .option('-n, --namespace <ns>', 'namespace for the permission checks (default: the context\'s, the in-cluster namespace file, the token\'s, then default); with --pod, also the Pod\'s namespace (default: the context\'s), and forwarded when given')
      .option('--can <verb-and-resource...>', 'also check VERB RESOURCE[.GROUP][/SUBRESOURCE], e.g. --can list pods --can get deployments.apps (repeatable); in Proxy mode get/list/watch also go through the proxy for real')
      .option('--json', 'print one JSON document instead of the table')
      .option('--pod <name>', 'run doctor inside this running Pod: adds an ephemeral container (needs get pods, patch pods/ephemeralcontainers, get pods/log) and prints its report')
      .option('--container <name>', 'with --pod: the container whose env and mounts doctor copies (default: the first app container)')
      .option('--image <ref>', 'with --pod: the image of the ephemeral container, holding /usr/local/bin/apiaccess (default: the operator image of this version)')
      .option('--timeout <seconds>', 'with --pod: how long to wait for the ephemeral doctor to finish (default: 120)', positiveSeconds)
      // Subcommands added with addCommand do not inherit the parent's settings: without this, a
      // usage error would exit the process directly (code 1) instead of reaching main() (code 2).
      .exitOverride()
      .action(async (flags: DoctorFlags) => (await import('./action.ts')).doctorAction(flags))
  );
}

function positiveSeconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1) throw new InvalidArgumentError('Expected a whole number of seconds >= 1.');
  return n;
}
