// The ApiAccessProfile API: the zod schema is the single source of truth. The CRD's OpenAPI schema,
// the TypeScript types, the operator's parsing and the cdk8s construct's validation all derive from it.
import { z } from 'zod';
import { DEFAULT_PROXY_PORT, PROXY_CONTAINER } from './proxy-sidecar.ts';

export const GROUP = 'apiaccess.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'ApiAccessProfile';
export const LIST_KIND = 'ApiAccessProfileList';
export const PLURAL = 'apiaccessprofiles';
export const SINGULAR = 'apiaccessprofile';
export const SHORT_NAME = 'aap';
export const CRD_NAME = `${PLURAL}.${GROUP}`;

/** The label a workload carries to bind itself to a profile in its namespace. */
export const PROFILE_LABEL = 'apiaccess.dev/profile';
/** The label the operator puts on every workload it injected, naming the profile. */
export const INJECTED_LABEL = 'apiaccess.dev/injected';
/** Pod-template annotation that changes whenever the injected configuration changes. */
export const CONFIG_HASH_ANNOTATION = 'apiaccess.dev/config-hash';
/**
 * The digest of the user's kubeconfig ConfigMap content (source ConfigMap), written by the operator
 * alone (the construct cannot know the content): an edit changes the template, so workloads roll out.
 */
export const KUBECONFIG_DIGEST_ANNOTATION = 'apiaccess.dev/kubeconfig-digest';
/** Labels on objects the operator creates for a profile (cluster-scoped ones cannot be owned). */
export const OWNER_NAME_LABEL = 'apiaccess.dev/profile-name';
export const OWNER_NAMESPACE_LABEL = 'apiaccess.dev/profile-namespace';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'apiaccess-operator';
export const FINALIZER = 'apiaccess.dev/finalizer';
export const FIELD_MANAGER = 'apiaccess-operator';

export const AUTH_MODES = ['ServiceAccount', 'Kubeconfig', 'Proxy'] as const;
export const SCOPES = ['Namespace', 'Cluster'] as const;
export const KUBECONFIG_SOURCES = ['Generated', 'ConfigMap', 'Secret'] as const;

export const DEFAULT_SERVER = 'https://kubernetes.default.svc:443';
export const DEFAULT_MOUNT_PATH = '/etc/apiaccess';
export const DEFAULT_KEY = 'kubeconfig';
export const DEFAULT_ENV = 'KUBECONFIG';
/**
 * 3607 s, the kubelet's own ServiceAccount token lifetime: the API server extends exactly this value
 * to a year for Pod-bound tokens of its own audience, so clients that read the token once (the
 * Python client, @kubernetes/client-node) keep working for the Pod's life (decision 0017).
 */
export const DEFAULT_TOKEN_EXPIRATION_SECONDS = 3607;
/** Proxy mode: only the sidecar holds the token and it re-reads it, so no extension is needed. */
export const DEFAULT_PROXY_TOKEN_EXPIRATION_SECONDS = 3600;
export { DEFAULT_PROXY_PORT, PROXY_CONTAINER };
/** Small and always set, so that namespaces with a ResourceQuota admit the sidecar; measured: ~60 MiB RSS after start, ~73 MiB after a watch and 200 requests. */
export const DEFAULT_PROXY_RESOURCES = { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '500m', memory: '128Mi' } } as const;
/** 0644: a generated kubeconfig holds no credential and must be readable by non-root containers. */
export const DEFAULT_GENERATED_FILE_MODE = 0o644;
/** 0600: a user-supplied kubeconfig usually holds a credential. */
export const DEFAULT_USER_FILE_MODE = 0o600;

const MAX_RULES = 64;
const MAX_LIST = 64;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// RBAC object names are path segments: they may hold ':' (system:aggregate-to-view) but no '/' or '%'.
const PATH_SEGMENT_NAME = /^[^/%]+$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

const dnsSubdomain = (what: string): z.ZodString =>
  z.string().min(1).max(253).regex(DNS_SUBDOMAIN, `${what} must be a DNS-1123 subdomain (lower case alphanumerics, '-' and '.')`);

const stringList = (description: string): z.ZodArray<z.ZodString> =>
  z.array(z.string().min(1)).max(MAX_LIST).describe(description);

export const PolicyRuleSchema = z
  .object({
    apiGroups: z.array(z.string()).max(MAX_LIST).describe('API groups of the resources; "" is the core group, "*" all groups.').optional(),
    resources: stringList('Resources this rule applies to, e.g. pods, deployments/scale; "*" for all.').optional(),
    verbs: z
      .array(z.string().min(1))
      .min(1)
      .max(32)
      .describe('Verbs this rule allows, e.g. get, list, watch; "*" for all.'),
    resourceNames: stringList('Optional allow-list of object names.').optional(),
    nonResourceURLs: stringList('Non-resource URLs such as /healthz or /version; only at Cluster scope.').optional(),
  })
  .strict()
  .describe('A Kubernetes RBAC PolicyRule, granted to the profile\'s ServiceAccount.')
  .meta({
    'x-kubernetes-validations': [
      {
        rule: "(has(self.resources) && size(self.resources) > 0) || (has(self.nonResourceURLs) && size(self.nonResourceURLs) > 0)",
        message: 'a rule needs resources or nonResourceURLs',
      },
    ],
  });

export const ServiceAccountSchema = z
  .object({
    name: dnsSubdomain('spec.serviceAccount.name')
      .optional()
      .describe('Name of the ServiceAccount the workloads run as. Default: the profile\'s name.'),
    create: z
      .boolean()
      .default(true)
      .describe(
        'Create and own the ServiceAccount. An existing ServiceAccount the operator did not create is used as-is, never owned or deleted.',
      ),
  })
  .strict()
  .describe('The identity of the bound workloads.');

export const PermissionsSchema = z
  .object({
    scope: z
      .enum(SCOPES)
      .default('Namespace')
      .describe('Namespace: a Role and RoleBindings in the profile\'s namespace. Cluster: a ClusterRole and ClusterRoleBindings.'),
    rules: z
      .array(PolicyRuleSchema)
      .max(MAX_RULES)
      .default([])
      .describe('Inline PolicyRules, rendered into an operator-owned Role or ClusterRole.'),
    clusterRoles: z
      .array(z.string().min(1).max(253).regex(PATH_SEGMENT_NAME, 'a ClusterRole name must not contain "/" or "%"'))
      .max(32)
      .default([])
      .describe('Existing ClusterRoles to bind as well (by RoleBinding or ClusterRoleBinding, following scope).'),
  })
  .strict()
  .describe('The rights granted to the profile\'s ServiceAccount.')
  .meta({
    'x-kubernetes-validations': [
      {
        rule: "(has(self.scope) && self.scope == 'Cluster') || !has(self.rules) || self.rules.all(r, !has(r.nonResourceURLs) || size(r.nonResourceURLs) == 0)",
        message: 'nonResourceURLs are only allowed when scope is Cluster',
        fieldPath: '.rules',
      },
    ],
  });

export const KubeconfigSchema = z
  .object({
    source: z
      .enum(KUBECONFIG_SOURCES)
      .default('Generated')
      .describe(
        'Generated: an operator-owned kubeconfig holding no credential, with a projected, kubelet-rotated token. ConfigMap or Secret: a kubeconfig the user supplies.',
      ),
    name: dnsSubdomain('spec.kubeconfig.name').optional().describe('Name of the ConfigMap or Secret (required unless source is Generated).'),
    key: z
      .string()
      .min(1)
      .max(253)
      .regex(CONFIG_KEY, 'spec.kubeconfig.key must consist of alphanumerics, "-", "_" or "."')
      .default(DEFAULT_KEY)
      .describe('Key of the kubeconfig in the ConfigMap or Secret.'),
    server: z
      .string()
      .min(9)
      .max(2048)
      .optional()
      .describe(`Generated only: the API server URL written into the kubeconfig (in Proxy mode: the URL the proxy forwards to). Default ${DEFAULT_SERVER}.`)
      .meta({ 'x-kubernetes-validations': [{ rule: "self.startsWith('https://')", message: 'server must be an https:// URL' }] }),
    mountPath: z
      .string()
      .min(2)
      .max(1024)
      .regex(/^\/[^:]*$/, 'spec.kubeconfig.mountPath must be an absolute path without ":"')
      .default(DEFAULT_MOUNT_PATH)
      .describe('Directory where the kubeconfig (and for Generated the token and ca.crt) is mounted, read-only.'),
    fileMode: z
      .number()
      .int()
      .optional()
      .describe('Mode of the kubeconfig file, 0..511 (0777). Default 420 (0644) for Generated, which holds no credential; 384 (0600) for ConfigMap and Secret.')
      .meta({ 'x-kubernetes-validations': [{ rule: 'self >= 0 && self <= 511', message: 'fileMode must be between 0 and 511 (0777)' }] }),
    env: z
      .string()
      .min(1)
      .max(253)
      .regex(ENV_NAME, 'spec.kubeconfig.env must be a valid environment variable name')
      .default(DEFAULT_ENV)
      .describe('Environment variable set to <mountPath>/kubeconfig in the selected containers.'),
    tokenExpirationSeconds: z
      .number()
      .int()
      .optional()
      .describe(
        `Generated and Proxy: lifetime of the projected token, 600..4294967296. Default ${DEFAULT_TOKEN_EXPIRATION_SECONDS} for Generated (extended to a year by the API server, so clients that read the token once keep working), ${DEFAULT_PROXY_TOKEN_EXPIRATION_SECONDS} for Proxy (the sidecar re-reads it).`,
      )
      .meta({
        'x-kubernetes-validations': [
          { rule: 'self >= 600 && self <= 4294967296', message: 'tokenExpirationSeconds must be between 600 and 4294967296' },
        ],
      }),
    audience: z.string().max(253).optional().describe('Generated and Proxy: audience of the projected token. Default: the API server\'s.'),
  })
  .strict()
  .describe('How the kubeconfig is provided when auth is Kubeconfig; in Proxy mode, where the kubeconfig pointing at the proxy is mounted (source must be Generated).')
  .meta({
    'x-kubernetes-validations': [
      {
        rule: "(has(self.source) && self.source == 'Generated') || has(self.name)",
        message: 'name is required when source is ConfigMap or Secret',
        fieldPath: '.name',
      },
      {
        rule: "(has(self.source) && self.source == 'Generated') || (!has(self.server) && !has(self.tokenExpirationSeconds) && !has(self.audience))",
        message: 'server, tokenExpirationSeconds and audience apply only when source is Generated',
      },
    ],
  });

// The numeric bounds live in zod as refinements so that parsing reports them with the field's path,
// and in CEL (above) so that the API server rejects them with the same message.
const KubeconfigWithBounds = KubeconfigSchema.superRefine((k, ctx) => {
  if (k.fileMode !== undefined && (k.fileMode < 0 || k.fileMode > 0o777)) {
    ctx.addIssue({ code: 'custom', path: ['fileMode'], message: `fileMode must be between 0 and 511 (0777), got ${k.fileMode}` });
  }
  if (k.tokenExpirationSeconds !== undefined && (k.tokenExpirationSeconds < 600 || k.tokenExpirationSeconds > 4294967296)) {
    ctx.addIssue({
      code: 'custom',
      path: ['tokenExpirationSeconds'],
      message: `tokenExpirationSeconds must be between 600 and 4294967296, got ${k.tokenExpirationSeconds}`,
    });
  }
  if (k.server !== undefined && !k.server.startsWith('https://')) {
    ctx.addIssue({ code: 'custom', path: ['server'], message: `server must be an https:// URL, got "${k.server}"` });
  }
  if (k.source !== 'Generated' && k.name === undefined) {
    ctx.addIssue({ code: 'custom', path: ['name'], message: `name is required when source is ${k.source}` });
  }
  if (k.source !== 'Generated') {
    for (const field of ['server', 'tokenExpirationSeconds', 'audience'] as const) {
      if (k[field] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [field], message: `${field} applies only when source is Generated, not ${k.source}` });
      }
    }
  }
});

const QUANTITY = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/;
const quantity = (field: string): z.ZodString => z.string().min(1).max(64).regex(QUANTITY, `${field} must be a Kubernetes quantity such as 10m, 64Mi or 1`);
const ResourceListSchema = (field: string) =>
  z
    .object({ cpu: quantity(`${field}.cpu`).optional(), memory: quantity(`${field}.memory`).optional() })
    .strict();

export const ProxySchema = z
  .object({
    port: z
      .number()
      .int()
      .default(DEFAULT_PROXY_PORT)
      .describe(`Port the proxy listens on, on 127.0.0.1 inside the Pod; 1024..65535. Default ${DEFAULT_PROXY_PORT}.`)
      .meta({ 'x-kubernetes-validations': [{ rule: 'self >= 1024 && self <= 65535', message: 'port must be between 1024 and 65535' }] }),
    resources: z
      .object({
        requests: ResourceListSchema('spec.proxy.resources.requests').optional().describe(`Default cpu ${DEFAULT_PROXY_RESOURCES.requests.cpu}, memory ${DEFAULT_PROXY_RESOURCES.requests.memory}.`),
        limits: ResourceListSchema('spec.proxy.resources.limits').optional().describe(`Default cpu ${DEFAULT_PROXY_RESOURCES.limits.cpu}, memory ${DEFAULT_PROXY_RESOURCES.limits.memory}.`),
      })
      .strict()
      .optional()
      .describe('Requests and limits of the proxy sidecar; each value not given keeps its default.'),
  })
  .strict()
  .describe('The proxy sidecar when auth is Proxy: a native sidecar running `apiaccess proxy` from the operator image.');

/**
 * Who last changed spec.permissions or spec.serviceAccount, as the API server authenticated them
 * (request.userInfo). Stamped at admission by the MutatingAdmissionPolicy of the install and pinned
 * by its ValidatingAdmissionPolicy (like a CertificateSigningRequest's spec.username/groups/extra):
 * nobody sets it by hand. The operator grants only what this author could grant by hand.
 */
export const AuthorSchema = z
  .object({
    username: z.string().describe('The requester\'s user name.'),
    uid: z.string().optional().describe('The requester\'s UID, if the authenticator gave one.'),
    groups: z.array(z.string()).optional().describe('The requester\'s groups.'),
    extra: z.record(z.string(), z.array(z.string())).optional().describe('The requester\'s extra attributes (e.g. authentication.kubernetes.io/credential-id).'),
  })
  .strict()
  .describe(
    'Set at admission, never by hand: who last changed spec.permissions or spec.serviceAccount. The operator grants only what this author may grant (SubjectAccessReview as the author). Leave it out of manifests; kubectl apply and server-side apply keep it.',
  );

export const ApiAccessProfileSpecSchema = z
  .object({
    auth: z
      .enum(AUTH_MODES)
      .describe(
        'How bound workloads authenticate: ServiceAccount (in-cluster config), Kubeconfig (a mounted kubeconfig file) or Proxy (a localhost proxy sidecar that alone holds the token and forwards only what permissions allow).',
      ),
    serviceAccount: ServiceAccountSchema.prefault({}),
    permissions: PermissionsSchema.prefault({}),
    kubeconfig: KubeconfigWithBounds.optional(),
    proxy: ProxySchema.optional(),
    containers: z
      .array(z.string().min(1).max(63).regex(DNS_LABEL, 'a container name must be a DNS-1123 label'))
      .min(1)
      .max(32)
      .meta({ 'x-kubernetes-validations': [{ rule: `!self.exists(c, c == '${PROXY_CONTAINER}')`, message: `${PROXY_CONTAINER} is the operator's proxy sidecar and cannot be selected` }] })
      .optional()
      .describe('Containers of the pod template that get the mount and env: app containers or native sidecars (init containers with restartPolicy Always). Default: every container, native sidecars included.'),
    author: AuthorSchema.optional(),
  })
  .strict()
  .meta({
    'x-kubernetes-validations': [
      {
        rule: "self.auth != 'Proxy' || !has(self.kubeconfig) || !has(self.kubeconfig.source) || self.kubeconfig.source == 'Generated'",
        message: 'auth Proxy mounts a generated kubeconfig pointing at the proxy: spec.kubeconfig.source must be Generated',
        fieldPath: '.kubeconfig.source',
      },
    ],
  })
  .superRefine((spec, ctx) => {
    if (spec.auth === 'Proxy' && spec.kubeconfig !== undefined && spec.kubeconfig.source !== 'Generated') {
      ctx.addIssue({ code: 'custom', path: ['kubeconfig', 'source'], message: `auth Proxy mounts a generated kubeconfig pointing at the proxy: source must be Generated, got ${spec.kubeconfig.source}` });
    }
    if (spec.proxy !== undefined && (spec.proxy.port < 1024 || spec.proxy.port > 65535)) {
      ctx.addIssue({ code: 'custom', path: ['proxy', 'port'], message: `port must be between 1024 and 65535, got ${spec.proxy.port}` });
    }
    if (spec.containers?.includes(PROXY_CONTAINER)) {
      ctx.addIssue({ code: 'custom', path: ['containers'], message: `${PROXY_CONTAINER} is the operator's proxy sidecar and cannot be selected` });
    }
    if (spec.permissions.scope !== 'Cluster') {
      spec.permissions.rules.forEach((rule, i) => {
        if ((rule.nonResourceURLs?.length ?? 0) > 0) {
          ctx.addIssue({
            code: 'custom',
            path: ['permissions', 'rules', i, 'nonResourceURLs'],
            message: `nonResourceURLs are only allowed when scope is Cluster, got scope ${spec.permissions.scope}`,
          });
        }
      });
    }
    spec.permissions.rules.forEach((rule, i) => {
      if ((rule.resources?.length ?? 0) === 0 && (rule.nonResourceURLs?.length ?? 0) === 0) {
        ctx.addIssue({ code: 'custom', path: ['permissions', 'rules', i], message: 'a rule needs resources or nonResourceURLs' });
      }
    });
  })
  .describe('Which identity and credentials the workloads labelled apiaccess.dev/profile=<name> get to reach the API server.');

export const ConditionSchema = z
  .object({
    type: z.string().min(1).max(316).describe('Type of condition in PascalCase.'),
    status: z.enum(['True', 'False', 'Unknown']).describe('Status of the condition.'),
    observedGeneration: z.number().int().min(0).optional().describe('The .metadata.generation the condition was set for.'),
    lastTransitionTime: z.string().describe('When the condition last changed status (RFC 3339).').meta({ format: 'date-time' }),
    reason: z.string().min(1).max(1024).describe('PascalCase reason for the last transition.'),
    message: z.string().max(32768).describe('Human readable details, naming the object and field.'),
  })
  .strict();

export const WorkloadCountsSchema = z
  .object({
    bound: z.number().int().min(0).describe('Labelled workloads carrying the current injection.'),
    pending: z.number().int().min(0).describe('Workloads whose Pods do not carry the current injection yet.'),
    unsupported: z.number().int().min(0).describe('Labelled objects that cannot be changed: bare Pods and bare Jobs (no controller).'),
    conflicted: z.number().int().min(0).describe('Workloads where another field manager owns a field the profile needs.'),
    containerNotFound: z.number().int().min(0).describe('Workloads without a container that spec.containers names.'),
    unreadable: z.number().int().min(0).describe('Workloads where a selected container cannot read the mounted kubeconfig.'),
    failed: z.number().int().min(0).describe('Workloads whose injection could not be written; retried with backoff.'),
  })
  .strict();

/** The grant in force: the last (serviceAccount, permissions) whose author was verified to hold them. */
export const GrantSchema = z
  .object({
    author: z.string().describe('User name of the author whose right to grant it was verified.'),
    generation: z.number().int().min(0).describe('The .metadata.generation at which it was accepted.'),
    serviceAccount: z
      .object({ name: z.string().describe('The ServiceAccount the permissions are granted to.'), create: z.boolean().describe('Whether the operator creates and owns it.') })
      .strict(),
    permissions: PermissionsSchema,
  })
  .strict()
  .describe('The grant the operator applies: the last accepted spec.serviceAccount and spec.permissions. A refused change leaves it as it was.');

export const ApiAccessProfileStatusSchema = z
  .object({
    observedGeneration: z.number().int().min(0).optional().describe('The .metadata.generation last reconciled.'),
    auth: z.enum(AUTH_MODES).optional().describe('The auth mode in effect.'),
    serviceAccountName: z.string().optional().describe('The ServiceAccount the bound workloads run as.'),
    workloads: WorkloadCountsSchema.optional().describe('Counts of labelled workloads.'),
    grant: GrantSchema.optional(),
    conditions: z
      .array(ConditionSchema)
      .max(16)
      .optional()
      .describe('Ready, RBACReady, CredentialsReady, WorkloadsBound, AccessVerified and CredentialsProtected.')
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
  })
  .strict()
  .describe('Observed state of the profile, written by the operator.');

export type ApiAccessProfileSpecInput = z.input<typeof ApiAccessProfileSpecSchema>;
export type ApiAccessProfileSpec = z.output<typeof ApiAccessProfileSpecSchema>;
export type ApiAccessProfileStatus = z.output<typeof ApiAccessProfileStatusSchema>;
export type PolicyRule = z.output<typeof PolicyRuleSchema>;
export type Condition = z.output<typeof ConditionSchema>;
export type WorkloadCounts = z.output<typeof WorkloadCountsSchema>;
export type Author = z.output<typeof AuthorSchema>;
export type ProxySpec = z.output<typeof ProxySchema>;
export type Grant = z.output<typeof GrantSchema>;
export type AuthMode = (typeof AUTH_MODES)[number];
export type Scope = (typeof SCOPES)[number];
export type KubeconfigSource = (typeof KUBECONFIG_SOURCES)[number];

export interface ObjectMetaLike {
  name: string;
  namespace: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  deletionTimestamp?: string | Date;
  creationTimestamp?: string | Date;
}

/** An ApiAccessProfile as stored by the API server (spec not yet validated). */
export interface ApiAccessProfileObject {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMetaLike;
  spec?: unknown;
  status?: ApiAccessProfileStatus;
}

/** A profile whose spec parsed: everything the desired-state builders need. */
export interface ParsedProfile {
  name: string;
  namespace: string;
  uid?: string;
  spec: ApiAccessProfileSpec;
}

export type SpecParseResult = { ok: true; spec: ApiAccessProfileSpec } | { ok: false; message: string; issues: SpecIssue[] };

export interface SpecIssue {
  /** The field as a user writes it, e.g. spec.kubeconfig.fileMode. */
  field: string;
  message: string;
}

/** Parses a spec at the boundary; invalid input becomes data naming each field, never an exception. */
export function parseSpec(input: unknown): SpecParseResult {
  const result = ApiAccessProfileSpecSchema.safeParse(input);
  if (result.success) return { ok: true, spec: result.data };
  const issues = result.error.issues.map((issue) => ({
    field: fieldPath(['spec', ...issue.path]),
    message: withValue(issue.message, valueAt(input, issue.path)),
  }));
  return { ok: false, issues, message: issues.map((i) => `${i.field}: ${i.message}`).join('; ') };
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let current: unknown = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function withValue(message: string, value: unknown): string {
  if (message.includes(', got ')) return message;
  if (value === undefined) return `${message} (the field is missing)`;
  const shown = JSON.stringify(value);
  return `${message}, got ${shown.length > 80 ? `${shown.slice(0, 77)}...` : shown}`;
}

function fieldPath(path: PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}
