// The operator's install: namespace, identity, least-privilege RBAC, Deployment, metrics Service and
// the CRD. Rendered with the L1 classes where the exact RBAC shape matters (cdk8s-plus's
// ClusterRole.allow writes one rule per resource with empty resourceNames).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiObject, Chart, type ChartProps } from 'cdk8s';
import { k8s } from 'cdk8s-plus-28';
import type { Construct } from 'constructs';
import { parse } from 'yaml';
import { GROUP, PLURAL } from '../crds/apiaccessprofile.ts';
import { CRD_FILE } from '../crds/crd.ts';
import { AUTHOR_POLICY, authorPolicies } from '../operator/desired/author-policies.ts';
import { packageRoot } from './package-root.ts';

export const OPERATOR_NAMESPACE = 'apiaccess-system';
export const OPERATOR_NAME = 'apiaccess-operator';
export const METRICS_PORT = 8443;
export const OPERATOR_USER = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_NAME}`;
export const METRICS_READER = `${OPERATOR_NAME}-metrics-reader`;
export const HEALTH_PORT = 8081;
const LABELS = { 'app.kubernetes.io/name': OPERATOR_NAME, 'app.kubernetes.io/component': 'operator', 'app.kubernetes.io/part-of': 'api-access-operator' };

export interface Rule {
  apiGroups: string[];
  resources: string[];
  resourceNames?: string[];
  verbs: string[];
}

const WATCH = ['get', 'list', 'watch'];
const OWN = ['create', 'get', 'list', 'watch', 'patch', 'delete'];

/**
 * Exactly the rights the operator uses, cluster-wide; no wildcards. It never reads Secrets (a
 * Secret-sourced kubeconfig is reported as not inspected) and never mints tokens:
 * serviceaccounts/token would let it act as any ServiceAccount.
 */
export function operatorClusterRules(): Rule[] {
  return [
    { apiGroups: [GROUP], resources: [PLURAL], verbs: ['get', 'list', 'watch', 'update', 'patch'] },
    { apiGroups: [GROUP], resources: [`${PLURAL}/status`], verbs: ['get', 'update', 'patch'] },
    // ownerReferences with blockOwnerDeletion on owned objects need update on the owner's finalizers.
    { apiGroups: [GROUP], resources: [`${PLURAL}/finalizers`], verbs: ['update'] },
    { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'], verbs: [...WATCH, 'patch'] },
    { apiGroups: ['batch'], resources: ['cronjobs'], verbs: [...WATCH, 'patch'] },
    // Labelled Jobs and Pods cannot be changed; they are watched to be reported, and Pods to count pending rollouts.
    { apiGroups: ['batch'], resources: ['jobs'], verbs: WATCH },
    { apiGroups: [''], resources: ['pods'], verbs: WATCH },
    { apiGroups: [''], resources: ['serviceaccounts', 'configmaps'], verbs: OWN },
    { apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles', 'rolebindings', 'clusterroles', 'clusterrolebindings'], verbs: OWN },
    // The operator creates Roles holding rights it does not hold itself (escalate) and binds existing
    // ClusterRoles named by profiles (bind). Who may create a profile is guarded separately.
    { apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles', 'clusterroles'], verbs: ['escalate', 'bind'] },
    // Access verification, the author checks and metrics authorization; metrics authentication.
    { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
    { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
    { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
    // The author-stamping admission policies, watched by name: without them no new grant is applied.
    {
      apiGroups: ['admissionregistration.k8s.io'],
      resources: ['mutatingadmissionpolicies', 'mutatingadmissionpolicybindings', 'validatingadmissionpolicies', 'validatingadmissionpolicybindings'],
      resourceNames: [AUTHOR_POLICY],
      verbs: WATCH,
    },
  ];
}

/**
 * Aggregated into the built-in admin, edit and view roles, so namespace tenants manage profiles;
 * safe because a profile grants only what its author could grant by hand (the author guard).
 */
export function aggregatedProfileRoles(): Array<{ name: string; aggregateTo: 'admin' | 'edit' | 'view'; rules: Rule[] }> {
  const write = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
  return [
    { name: `${OPERATOR_NAME}-profiles-admin`, aggregateTo: 'admin', rules: [{ apiGroups: [GROUP], resources: [PLURAL], verbs: write }] },
    { name: `${OPERATOR_NAME}-profiles-edit`, aggregateTo: 'edit', rules: [{ apiGroups: [GROUP], resources: [PLURAL], verbs: write }] },
    { name: `${OPERATOR_NAME}-profiles-view`, aggregateTo: 'view', rules: [{ apiGroups: [GROUP], resources: [PLURAL, `${PLURAL}/status`], verbs: WATCH }] },
  ];
}

/** Leader election, in the operator's own namespace only. */
export function operatorLeaseRules(): Rule[] {
  return [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update', 'patch'] }];
}

export interface OperatorInstallProps extends ChartProps {
  /** Container image of the operator, without tag. */
  readonly image: string;
  /** Image tag and app.kubernetes.io/version label. */
  readonly version: string;
  readonly replicas?: number;
}

export class OperatorInstall extends Chart {
  constructor(scope: Construct, id: string, props: OperatorInstallProps) {
    super(scope, id, { ...props, disableResourceNameHashes: true });
    const labels = { ...LABELS, 'app.kubernetes.io/version': props.version };
    const meta = { name: OPERATOR_NAME, namespace: OPERATOR_NAMESPACE, labels };

    new k8s.KubeNamespace(this, 'namespace', { metadata: { name: OPERATOR_NAMESPACE, labels } });
    // The CRD is emitted verbatim: the typed L1 CRD class silently drops a raw openAPIV3Schema.
    new ApiObject(this, 'crd', parse(readFileSync(join(packageRoot(), 'crds', CRD_FILE), 'utf8')));
    new k8s.KubeServiceAccount(this, 'service-account', { metadata: meta, automountServiceAccountToken: true });
    new k8s.KubeClusterRole(this, 'cluster-role', { metadata: { name: OPERATOR_NAME, labels }, rules: operatorClusterRules() });
    new k8s.KubeClusterRoleBinding(this, 'cluster-role-binding', {
      metadata: { name: OPERATOR_NAME, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: OPERATOR_NAME },
      subjects: [{ kind: 'ServiceAccount', name: OPERATOR_NAME, namespace: OPERATOR_NAMESPACE }],
    });
    for (const role of aggregatedProfileRoles()) {
      new k8s.KubeClusterRole(this, role.name, {
        metadata: { name: role.name, labels: { ...labels, [`rbac.authorization.k8s.io/aggregate-to-${role.aggregateTo}`]: 'true' } },
        rules: role.rules,
      });
    }
    // Bind it to the ServiceAccount of your Prometheus to scrape https://<pod>:8443/metrics with its token.
    new k8s.KubeClusterRole(this, 'metrics-reader', { metadata: { name: METRICS_READER, labels }, rules: [{ nonResourceUrLs: ['/metrics'], verbs: ['get'] }] });
    // Admission records who authored each profile's grant (docs/decisions/0011-author-guard.md).
    for (const policy of authorPolicies(OPERATOR_USER, labels)) new ApiObject(this, `${policy.kind}-${policy.metadata.name}`, policy);
    new k8s.KubeRole(this, 'leader-election-role', { metadata: { ...meta, name: `${OPERATOR_NAME}-leader-election` }, rules: operatorLeaseRules() });
    new k8s.KubeRoleBinding(this, 'leader-election-binding', {
      metadata: { ...meta, name: `${OPERATOR_NAME}-leader-election` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${OPERATOR_NAME}-leader-election` },
      subjects: [{ kind: 'ServiceAccount', name: OPERATOR_NAME, namespace: OPERATOR_NAMESPACE }],
    });
    new k8s.KubeDeployment(this, 'deployment', {
      metadata: meta,
      spec: {
        replicas: props.replicas ?? 2,
        selector: { matchLabels: { 'app.kubernetes.io/name': OPERATOR_NAME } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: OPERATOR_NAME,
            // Explicit: the operator authenticates with its own ServiceAccount token (in-cluster config).
            automountServiceAccountToken: true,
            securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'operator',
                image: `${props.image}:${props.version}`,
                imagePullPolicy: 'IfNotPresent',
                command: ['apiaccess'],
                args: ['run', '--leader-elect', `--metrics-bind-address=:${METRICS_PORT}`, `--health-probe-bind-address=:${HEALTH_PORT}`],
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                  // auth: Proxy injects a sidecar running this same image (`apiaccess proxy`).
                  { name: 'APIACCESS_PROXY_IMAGE', value: `${props.image}:${props.version}` },
                ],
                ports: [
                  { name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' },
                  { name: 'health', containerPort: HEALTH_PORT, protocol: 'TCP' },
                ],
                livenessProbe: { httpGet: { path: '/healthz', port: k8s.IntOrString.fromString('health') }, initialDelaySeconds: 5, periodSeconds: 10 },
                readinessProbe: { httpGet: { path: '/readyz', port: k8s.IntOrString.fromString('health') }, periodSeconds: 5 },
                resources: {
                  requests: { cpu: k8s.Quantity.fromString('50m'), memory: k8s.Quantity.fromString('64Mi') },
                  limits: { memory: k8s.Quantity.fromString('256Mi') },
                },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  runAsNonRoot: true,
                  capabilities: { drop: ['ALL'] },
                },
              },
            ],
          },
        },
      },
    });
    new k8s.KubeService(this, 'metrics-service', {
      metadata: { ...meta, name: `${OPERATOR_NAME}-metrics` },
      spec: {
        selector: { 'app.kubernetes.io/name': OPERATOR_NAME },
        ports: [{ name: 'metrics', port: METRICS_PORT, targetPort: k8s.IntOrString.fromString('metrics'), protocol: 'TCP' }],
      },
    });
  }
}
