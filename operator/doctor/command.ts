// `apiaccess doctor [--kubeconfig F] [--namespace NS] [--can VERB RESOURCE[.GROUP]]... [--json]`
// Exit 0 when no check fails (warnings allowed), 1 when one fails, 2 on bad usage.
// The checks are loaded only when the command runs (see operator/cli.ts).
import { Command } from 'commander';

export interface DoctorFlags {
  kubeconfig?: string;
  namespace?: string;
  can?: string[];
  json?: boolean;
}

export function doctorCommand(): Command {
  return (
    new Command('doctor')
      .description('Diagnose API access from where it runs (inside a pod or not): an ordered chain of checks, each with a verdict and a remedy')
      .option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, in-cluster, then ~/.kube/config, as `apiaccess run`)')
      .option('--namespace <ns>', 'namespace for the permission checks (default: the context\'s, the in-cluster namespace file, the token\'s, then default)')
      .option('--can <verb-and-resource...>', 'also check VERB RESOURCE[.GROUP][/SUBRESOURCE], e.g. --can list pods --can get deployments.apps (repeatable)')
      .option('--json', 'print one JSON document instead of the table')
      // Subcommands added with addCommand do not inherit the parent's settings: without this, a
      // usage error would exit the process directly (code 1) instead of reaching main() (code 2).
      .exitOverride()
      .action(async (flags: DoctorFlags) => (await import('./action.ts')).doctorAction(flags))
  );
}
