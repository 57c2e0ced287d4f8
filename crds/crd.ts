// The ApiAccessProfile CustomResourceDefinition, built from the zod schema.
import { z } from 'zod';
import {
  ApiAccessProfileSpecSchema,
  ApiAccessProfileStatusSchema,
  CRD_NAME,
  GROUP,
  KIND,
  LIST_KIND,
  PLURAL,
  SHORT_NAME,
  SINGULAR,
  VERSION,
} from './apiaccessprofile.ts';
import { toStructuralSchema, type JSONSchemaProps } from './structural-schema.ts';

export const CRD_FILE = 'apiaccess.dev_apiaccessprofiles.yaml';

const ObjectSchema = z
  .object({
    apiVersion: z.string().optional().describe('APIVersion defines the versioned schema of this representation of an object.'),
    kind: z.string().optional().describe('Kind is a string value representing the REST resource this object represents.'),
    metadata: z.object({}).optional(),
    spec: ApiAccessProfileSpecSchema,
    status: ApiAccessProfileStatusSchema.optional(),
  })
  .describe(
    'ApiAccessProfile gives the workloads labelled apiaccess.dev/profile=<name> in its namespace access to the Kubernetes API server: a ServiceAccount, RBAC and, in Kubeconfig mode, a mounted kubeconfig.',
  );

export function profileOpenApiSchema(): JSONSchemaProps {
  const schema = toStructuralSchema(ObjectSchema);
  // metadata is validated by the API server itself; its schema must be a bare object.
  (schema.properties as Record<string, JSONSchemaProps>).metadata = { type: 'object' };
  // Workloads name the profile in a label value, which holds at most 63 characters.
  schema['x-kubernetes-validations'] = [
    {
      rule: 'size(self.metadata.name) <= 63',
      message: 'metadata.name must be at most 63 characters: workloads reference the profile in the label apiaccess.dev/profile',
    },
  ];
  return schema;
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: JSONSchemaProps;
}

export function apiAccessProfileCrd(): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: CRD_NAME,
      labels: { 'app.kubernetes.io/name': 'api-access-operator', 'app.kubernetes.io/part-of': 'api-access-operator' },
    },
    spec: {
      group: GROUP,
      names: { kind: KIND, listKind: LIST_KIND, plural: PLURAL, singular: SINGULAR, shortNames: [SHORT_NAME], categories: ['apiaccess'] },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Auth', type: 'string', jsonPath: '.spec.auth', description: 'ServiceAccount or Kubeconfig' },
            { name: 'ServiceAccount', type: 'string', jsonPath: '.status.serviceAccountName' },
            { name: 'Bound', type: 'integer', jsonPath: '.status.workloads.bound', description: 'Workloads carrying the current injection' },
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: { openAPIV3Schema: profileOpenApiSchema() },
        },
      ],
    },
  };
}
