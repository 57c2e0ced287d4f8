// The client compatibility matrix as data: rows are the clients of the clients image, columns the
// ways a profile gives a workload its credentials, and each measured cell says whether an allowed
// request succeeded, a forbidden one was refused, and whether the client really switched to the
// kubelet's rotated token. client-matrix.test.ts measures it, render.ts turns it into docs/clients.md.

export const CLIENTS = ['curl', 'kubectl', 'client-go', 'python', 'client-node'] as const;
export type ClientId = (typeof CLIENTS)[number];

export const COLUMNS = ['ServiceAccount', 'Generated', 'Secret', 'Proxy'] as const;
export type ColumnId = (typeof COLUMNS)[number];

/** What every client asks each round, every 10 s: client-go's examples make exactly these two requests. */
export const ALLOWED_REQUEST = { verb: 'list', resource: 'pods', path: '/api/v1/pods', text: 'list Pods in all namespaces' } as const;
export const FORBIDDEN_REQUEST = { verb: 'get', resource: 'pods', namespace: 'default', name: 'example-xxxxx', path: '/api/v1/namespaces/default/pods/example-xxxxx', text: 'get Pod default/example-xxxxx' } as const;
/** The one grant of every cell: `list`, not `get`, so the forbidden request is refused by RBAC (or by the proxy). */
export const GRANT = { scope: 'Cluster', rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] } as const;

/** The API server accepts a ServiceAccount token this long past its `exp` (go-jose's DefaultLeeway). */
export const EXPIRY_LEEWAY_MS = 60_000;

export type RequestKind = 'allowed' | 'forbidden';

/** One answer a client reported in its log. `status` 0: no HTTP answer (connection or TLS error). */
export interface Outcome {
  readonly at: number;
  readonly request: RequestKind;
  readonly status: number;
  readonly detail: string;
}

/** One request of the cell's Pod as the API server's audit log recorded it. */
export interface AuditedRequest {
  readonly at: number;
  readonly request: RequestKind | 'other';
  readonly status: number;
  readonly user: string;
  /** `authentication.kubernetes.io/credential-id`: `JTI=<id>` for a ServiceAccount token, `X509SHA256=<hash>` for a certificate. */
  readonly credential: string | undefined;
}

/** The kubelet-written token file of the cell, read inside the Pod before and after its rotation. */
export interface TokenObservation {
  readonly oldJti: string;
  readonly newJti: string;
  /** The last time the test saw the old token in the file. */
  readonly lastOldSeenAt: number;
  /** When the test first saw the new token in the file (the kubelet wrote it after lastOldSeenAt). */
  readonly rotatedSeenAt: number;
  /** The old token's `exp` (ms): after it the API server refuses the old token. */
  readonly oldExpiresAt: number;
}

export interface Verdict {
  readonly ok: boolean;
  /** The measured facts behind `ok`, in a sentence. */
  readonly evidence: string;
}

export type Rotation =
  | {
      readonly applicable: true;
      readonly oldJti: string;
      readonly newJti: string;
      readonly rotatedSeenAt: string;
      /** Requests at or after this time are judged (the rotation plus the clients' re-read period). */
      readonly judgedFrom: string;
      /** Credential ids of the audited requests before the rotation, with counts. */
      readonly before: Readonly<Record<string, number>>;
      /** Credential ids of the audited requests judged, with counts (`none` for a request without a credential). */
      readonly after: Readonly<Record<string, number>>;
      /** Credential ids of every audited request since the new token appeared, with counts: what a client that does not re-read keeps sending. */
      readonly sinceRotation: Readonly<Record<string, number>>;
      /** Every judged request carried the new token. */
      readonly usesNewToken: boolean;
      /** Every allowed request after the rotation succeeded (alone it proves nothing: the old token stays valid until it expires). */
      readonly stillWorks: boolean;
      /** The old token's expiry plus the API server's leeway: from then on it is refused. */
      readonly oldTokenRefusedFrom: string;
      /** Statuses the client got for the allowed request from then on, with counts (`200`, or `401` for a client still sending the old token). */
      readonly afterExpiry: Readonly<Record<string, number>>;
      readonly evidence: string;
    }
  | { readonly applicable: false; readonly reason: string };

export interface CellResult {
  readonly client: ClientId;
  readonly column: ColumnId;
  /** The Pod and the identity the API server should see. */
  readonly pod: string;
  readonly expectedUser: string;
  /** Users the audit log named for the Pod's requests. */
  readonly users: readonly string[];
  readonly restarts: number;
  readonly allowed: Verdict;
  readonly forbidden: Verdict;
  readonly rotation: Rotation;
}

/** A column that this run could not measure, with the reason (rendered as such, never as a result). */
export interface MissingColumn {
  readonly column: ColumnId;
  readonly reason: string;
}

export interface Versions {
  readonly kubernetes: string;
  readonly kubectl: string;
  readonly clientGo: string;
  readonly python: string;
  readonly pythonKubernetes: string;
  readonly clientNode: string;
  readonly node: string;
  readonly curl: string;
}

export interface MatrixRun {
  readonly date: string;
  readonly durationSeconds: number;
  readonly tokenExpirationSeconds: number;
  readonly rereadSeconds: number;
  readonly versions: Versions;
  /** The generated kubeconfig's `user` stanza as the operator wrote it (what client-node's cell depends on). */
  readonly generatedUser: Readonly<Record<string, unknown>>;
  /** The Proxy kubeconfig's `cluster` stanza (client-node's Proxy cell depends on it). */
  readonly proxyCluster: Readonly<Record<string, unknown>>;
  /** The Generated profiles' `ClientsCompatible` condition as the operator set it (its warning for read-once clients). */
  readonly generatedClientsCompatible?: { readonly status: string; readonly reason: string; readonly message: string };
  readonly cells: readonly CellResult[];
  readonly missingColumns: readonly MissingColumn[];
}

export function cellName(client: ClientId, column: ColumnId): string {
  return `${client}-${column.toLowerCase()}`;
}

/** The cell holds: allowed, refused, and (where a token rotates) the new token is really used. */
export function holds(cell: CellResult): boolean {
  return cell.allowed.ok && cell.forbidden.ok && (!cell.rotation.applicable || (cell.rotation.usesNewToken && cell.rotation.stillWorks));
}
