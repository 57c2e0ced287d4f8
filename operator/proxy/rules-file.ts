// The proxy sidecar's rules file (`rules.json` in the ConfigMap `apiaccess-<profile>-proxy`): what
// the profile's permissions allow, with referenced ClusterRoles already expanded by the operator
// (or the cdk8s construct, for inline rules). Written by the operator, read by `apiaccess proxy`,
// which re-reads it when the kubelet updates the ConfigMap volume. It holds no credential.
import { z } from 'zod';
import { PolicyRuleSchema, SCOPES } from '../../crds/apiaccessprofile.ts';

export const PROXY_RULES_KEY = 'rules.json';
export const PROXY_RULES_VERSION = 1;

export const ProxyRulesFileSchema = z
  .object({
    version: z.literal(PROXY_RULES_VERSION),
    /** `<namespace>/<name>` of the ApiAccessProfile, named in every refusal. */
    profile: z.string().min(3),
    /** The identity requests are sent as: `system:serviceaccount:<ns>:<sa>`. */
    user: z.string().min(1),
    /** Namespace: namespaced requests in `namespace` only. Cluster: every namespace and cluster-scoped resources. */
    scope: z.enum(SCOPES),
    namespace: z.string().min(1),
    /** The profile's inline rules followed by the rules of each referenced ClusterRole (aggregation resolved). */
    rules: z.array(PolicyRuleSchema),
    /** ClusterRoles the profile references that were not found (their rules allow nothing yet). */
    missingClusterRoles: z.array(z.string()).default([]),
  })
  .strict();

export type ProxyRulesFile = z.output<typeof ProxyRulesFileSchema>;
