// The one long-lived process each cell's container runs, and how its log is read back. Every client
// makes the same two requests every 10 s (client-go's examples make exactly these, unmodified); the
// scripts for the other clients print one `MATRIX <request> <status> <detail>` line per answer.
// curl and kubectl are shell loops that start a new curl/kubectl per request, so they read their
// files on every request; Python and client-node load their configuration once, then loop.
import { ALLOWED_REQUEST, FORBIDDEN_REQUEST, type ClientId, type ColumnId, type Outcome, type RequestKind } from './matrix.ts';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const ROUND_SECONDS = 10;

/** curl's credential per column: what a shell script does by hand (curl reads no kubeconfig). */
const CURL_CALL: Record<ColumnId, string> = {
  // Reference seed 004: the mounted ServiceAccount files, through the `kubernetes` Service.
  ServiceAccount: `curl -sS --cacert ${SA_DIR}/ca.crt -H "Authorization: Bearer $(cat ${SA_DIR}/token)" "https://kubernetes.default.svc$1"`,
  // The generated kubeconfig names the server, the CA file and the token file.
  Generated: 'curl -sS --cacert "$(kc certificate-authority)" -H "Authorization: Bearer $(cat "$(kc tokenFile)")" "$(kc server)$1"',
  // The user's kubeconfig embeds the CA and the client certificate and key.
  Secret:
    'kc certificate-authority-data | base64 -d > /tmp/ca.crt && kc client-certificate-data | base64 -d > /tmp/client.crt && kc client-key-data | base64 -d > /tmp/client.key && curl -sS --cacert /tmp/ca.crt --cert /tmp/client.crt --key /tmp/client.key "$(kc server)$1"',
  // Plain HTTP to the sidecar, no credential.
  Proxy: 'curl -sS "$KUBERNETES_API_PROXY$1"',
};

function curlScript(column: ColumnId): string {
  return `kc() { sed -n "s/^ *$1: *//p" "$KUBECONFIG" | head -n 1; }
call() { ${CURL_CALL[column]} -o /tmp/body -w '%{http_code}' 2>/tmp/err; }
report() { code=$(call "$2"); echo "MATRIX $1 $code $(sed -n 's/.*"message": *"\\(\\([^"\\\\]\\|\\\\.\\)*\\)".*/\\1/p' /tmp/body | sed 's/\\\\"/"/g' | head -n 1)$(head -c 200 /tmp/err | tr '\\n' ' ')"; }
while true; do
  report allowed ${ALLOWED_REQUEST.path}
  report forbidden ${FORBIDDEN_REQUEST.path}
  sleep ${ROUND_SECONDS}
done`;
}

// kubectl finds the in-cluster configuration by itself when KUBECONFIG is unset (ServiceAccount column).
const KUBECTL_SCRIPT = `report() { request=$1; shift; if out=$(kubectl "$@" 2>&1); then echo "MATRIX $request ok $(printf '%s\\n' "$out" | wc -l) lines"; else echo "MATRIX $request error $(printf '%s' "$out" | tail -n 1)"; fi; }
while true; do
  report allowed get pods --all-namespaces -o name
  report forbidden get pod ${FORBIDDEN_REQUEST.name} -n ${FORBIDDEN_REQUEST.namespace} -o name
  sleep ${ROUND_SECONDS}
done`;

function pythonScript(column: ColumnId): string {
  const load = column === 'ServiceAccount' ? 'config.load_incluster_config()' : 'config.load_kube_config()';
  return `import time
from kubernetes import client, config
${load}
v1 = client.CoreV1Api()
def report(request, status, detail):
    print("MATRIX", request, status, detail, flush=True)
def failure(request, e):
    if isinstance(e, client.exceptions.ApiException):
        report(request, e.status, e.reason)
    else:
        report(request, 0, repr(e)[:200])
while True:
    try:
        report("allowed", 200, "%d pods" % len(v1.list_pod_for_all_namespaces().items))
    except Exception as e:
        failure("allowed", e)
    try:
        v1.read_namespaced_pod("${FORBIDDEN_REQUEST.name}", "${FORBIDDEN_REQUEST.namespace}")
        report("forbidden", 200, "read")
    except Exception as e:
        failure("forbidden", e)
    time.sleep(${ROUND_SECONDS})
`;
}

// ESM: NODE_PATH does not apply to \`import\`; the image's working directory /work holds node_modules.
const CLIENT_NODE_SCRIPT = `import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
const kc = new KubeConfig();
kc.loadFromDefault();
const api = kc.makeApiClient(CoreV1Api);
const report = (request, status, detail) => console.log(\`MATRIX \${request} \${status} \${detail}\`);
const failure = (request, e) => {
  let body = e?.body;
  try { if (typeof body === 'string') body = JSON.parse(body); } catch {}
  report(request, typeof e?.code === 'number' ? e.code : 0, String(body?.message ?? e?.message ?? e).split('\\n')[0].slice(0, 200));
};
for (;;) {
  try {
    report('allowed', 200, \`\${(await api.listPodForAllNamespaces()).items.length} pods\`);
  } catch (e) {
    failure('allowed', e);
  }
  try {
    await api.readNamespacedPod({ name: '${FORBIDDEN_REQUEST.name}', namespace: '${FORBIDDEN_REQUEST.namespace}' });
    report('forbidden', 200, 'read');
  } catch (e) {
    failure('forbidden', e);
  }
  await new Promise((resolve) => setTimeout(resolve, ${ROUND_SECONDS * 1000}));
}
`;

/** The container command of a cell: one process for the Pod's whole life. */
export function clientCommand(client: ClientId, column: ColumnId): string[] {
  switch (client) {
    case 'curl':
      return ['sh', '-c', curlScript(column)];
    case 'kubectl':
      return ['sh', '-c', KUBECTL_SCRIPT];
    case 'client-go':
      // The examples, unmodified: in-cluster where the Pod has the ServiceAccount files, else the kubeconfig.
      return column === 'ServiceAccount' ? ['in-cluster-client-configuration'] : ['sh', '-c', 'exec out-of-cluster-client-configuration -kubeconfig "$KUBECONFIG"'];
    case 'python':
      return ['python3', '-c', pythonScript(column)];
    case 'client-node':
      return ['node', '--input-type=module', '-e', CLIENT_NODE_SCRIPT];
  }
}

/** How the doc describes a row: what runs and how it finds its credentials. */
export const CLIENT_DESCRIPTIONS: Record<ClientId, string> = {
  curl: 'a shell loop that runs a new `curl` per request; it reads no kubeconfig, so the script reads the files itself on every request: the ServiceAccount token and CA (seed 004), the generated kubeconfig\'s `server`, `certificate-authority` and `tokenFile`, the user\'s kubeconfig\'s embedded CA, client certificate and key (extracted with `sed` and `base64 -d`), or `$KUBERNETES_API_PROXY`',
  kubectl: 'a shell loop that runs a new `kubectl` per request (`get pods --all-namespaces`, `get pod example-xxxxx -n default`): every run loads `$KUBECONFIG`, or the in-cluster configuration when it is unset',
  'client-go': 'client-go\'s own examples, unmodified: `in-cluster-client-configuration` (`rest.InClusterConfig()`) in the ServiceAccount column, `out-of-cluster-client-configuration -kubeconfig "$KUBECONFIG"` elsewhere; one process that loads its configuration once and loops every 10 s',
  python: 'the Python client: `config.load_incluster_config()` (ServiceAccount column) or `config.load_kube_config()` (reads `$KUBECONFIG`) once, then a `CoreV1Api` loop every 10 s',
  'client-node': '`@kubernetes/client-node`: `KubeConfig.loadFromDefault()` once (`$KUBECONFIG`, then `~/.kube/config`, then in-cluster), then a `CoreV1Api` loop every 10 s',
};

/**
 * The answers a client reported, from its log (`timestamps=true`: each line starts with the
 * kubelet's RFC 3339 time). client-go's examples print their own sentences; the others print
 * MATRIX lines. kubectl reports `ok`/`error`: its message names the HTTP status.
 */
export function parseOutcomes(client: ClientId, log: string): Outcome[] {
  const outcomes: Outcome[] = [];
  for (const line of log.split('\n')) {
    const match = /^(\S+) (.*)$/.exec(line);
    if (!match) continue;
    const at = Date.parse(match[1]!);
    const text = match[2]!;
    const outcome = client === 'client-go' ? clientGoOutcome(text) : scriptOutcome(client, text);
    if (outcome && !Number.isNaN(at)) outcomes.push({ at, ...outcome });
  }
  return outcomes;
}

function clientGoOutcome(text: string): Omit<Outcome, 'at'> | undefined {
  if (/^There are \d+ pods in the cluster$/.test(text)) return { request: 'allowed', status: 200, detail: text };
  // A failed list panics: the container restarts, and the panic is the last thing it logged.
  if (text.startsWith('panic: ')) return { request: 'allowed', status: statusOfMessage(text), detail: text };
  if (/^Error getting pod /.test(text)) return { request: 'forbidden', status: statusOfMessage(text), detail: text };
  if (/^Pod .* not found/.test(text)) return { request: 'forbidden', status: 404, detail: text };
  if (/^Found .*pod/.test(text)) return { request: 'forbidden', status: 200, detail: text };
  return undefined;
}

function scriptOutcome(client: ClientId, text: string): Omit<Outcome, 'at'> | undefined {
  const match = /^MATRIX (allowed|forbidden) (\S+) ?(.*)$/.exec(text);
  if (!match) return undefined;
  const request = match[1] as RequestKind;
  const detail = match[3] ?? '';
  if (client === 'kubectl') return { request, status: match[2] === 'ok' ? 200 : statusOfMessage(detail), detail };
  const status = Number.parseInt(match[2]!, 10);
  return { request, status: Number.isNaN(status) ? 0 : status, detail };
}

/** The HTTP status a client's error message names (kubectl's `Error from server (Forbidden)`, client-go's `is forbidden`). */
export function statusOfMessage(message: string): number {
  if (/\(Forbidden\)|is forbidden|forbidden:/i.test(message)) return 403;
  if (/Unauthorized/i.test(message)) return 401;
  if (/\(NotFound\)|not found/i.test(message)) return 404;
  return 0;
}
