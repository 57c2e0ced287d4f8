// What the injected Proxy-mode sidecar and `apiaccess proxy` agree on without flags: its name, its
// port and where its volume is mounted. No imports: the CLI loads this before any command runs, and
// the kubelet runs `apiaccess proxy --probe` as a startupProbe, which must stay cheap.

/** The port `apiaccess proxy` listens on (127.0.0.1 only), as `kubectl proxy`'s. */
export const DEFAULT_PROXY_PORT = 8001;
/** The native sidecar's name: never a target of the default container selection. */
export const PROXY_CONTAINER = 'apiaccess-proxy';
/** Where the sidecar mounts its own volume (token, CA, rules); no app container mounts it. */
export const PROXY_MOUNT_PATH = '/var/run/apiaccess-proxy';
