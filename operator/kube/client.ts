// A small Kubernetes REST client on Node's http(s) with ONE keep-alive agent per client. It takes TLS
// material and credentials from a client-node KubeConfig (so every kubeconfig and in-cluster shape
// client-node understands works) but not its transport: client-node 1.4 builds a new agent per
// request, which leaks sockets on every re-watch (docs: toolchain.md).
import * as http from 'node:http';
import * as https from 'node:https';
import { StringDecoder } from 'node:string_decoder';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ResolvedClientConfig } from '../config/client-config.ts';
import type { CredentialSource } from '../config/credentials.ts';
import { sleep } from './backoff.ts';
import { objectPath, resourceFor } from './resources.ts';
import { TokenBucket } from './token-bucket.ts';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  deletionTimestamp?: string;
  creationTimestamp?: string;
  managedFields?: unknown[];
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [k: string]: unknown;
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export type Verb = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  /** Sent as JSON unless it is a string or Buffer. */
  body?: unknown;
  /** Default `application/json`. */
  contentType?: string;
  signal?: AbortSignal;
  /**
   * Default 30 000; the whole request: the rate limiter, every attempt's headers and body, and the
   * waits the server asks for between attempts (as client-go's request timeout). A wait that would
   * end after it is not waited: the ApiError comes at once, with its `retryAfterMs`.
   */
  timeoutMs?: number;
}

export interface RequestInfo {
  /** The HTTP method, or `WATCH` for a watch. */
  verb: string;
  /** Without the query string, so metrics keep a bounded cardinality per object. */
  path: string;
  /** 0 when no HTTP response arrived (network error, timeout, abort). */
  status: number;
  durationMs: number;
}

export interface KubeClientOptions {
  userAgent?: string;
  /** Called once per attempt when its response headers (or its failure) arrived. */
  onRequest?: (info: RequestInfo) => void;
  /**
   * Requests per second sustained, client-side, over every request and the start of every watch.
   * @default 20 (controller-runtime's)
   */
  qps?: number;
  /**
   * Requests let through at once above `qps` after an idle period.
   * @default 30 (controller-runtime's)
   */
  burst?: number;
  /**
   * Asked before every attempt (after the rate limiter, so a request that waited is asked again):
   * a message refuses the request with an ApiError of reason `Fenced`, sending nothing. The operator
   * fences its writes once it lost the Lease, so in-flight reconciles cannot write any more.
   */
  fence?: (method: Verb, path: string) => string | undefined;
}

export interface ApplyOptions {
  fieldManager: string;
  force?: boolean;
  subresource?: 'status';
  dryRun?: boolean;
}

export interface DeleteOptions {
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  preconditionsUid?: string;
}

/** A `metav1.Status` as the API server sends it with every failure. */
interface Status {
  kind?: string;
  message?: string;
  reason?: string;
  details?: unknown;
  code?: number;
}

/**
 * A failed API request. `status` is the HTTP status (0: no response arrived; then `reason` is
 * `Timeout` or `NetworkError`), `reason` the Status reason (NotFound, Conflict, Expired, ...).
 * `retryAfterMs`: how long the server asked clients to wait (Retry-After, or the Status'
 * `details.retryAfterSeconds`), at most 60 s.
 */
export class ApiError extends Error {
  readonly code = 'ApiError';
  override readonly name = 'ApiError';
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    readonly status: number,
    readonly reason: string,
    readonly details?: unknown,
    readonly body?: unknown,
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

export function isApiError(error: unknown): error is ApiError {
  return error instanceof ApiError;
}

export function isNotFound(error: unknown): boolean {
  return isApiError(error) && error.status === 404;
}

export function isConflict(error: unknown): boolean {
  return isApiError(error) && error.status === 409;
}

/** The resourceVersion is too old: list again. Watches report it as Expired, lists as Gone/Expired with 410. */
export function isGone(error: unknown): boolean {
  return isApiError(error) && (error.status === 410 || error.reason === 'Expired' || error.reason === 'Gone');
}

export function isForbidden(error: unknown): boolean {
  return isApiError(error) && error.status === 403;
}

/** How long the server asked to wait before trying again (429, or a 5xx with Retry-After), if it did. */
export function retryAfterMs(error: unknown): number | undefined {
  return isApiError(error) ? error.retryAfterMs : undefined;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_USER_AGENT = 'apiaccess-operator';
export const DEFAULT_QPS = 200;
export const DEFAULT_BURST = 400;
/** Attempts in all for a request the server asked to retry later (client-go makes up to 10). */
const MAX_ATTEMPTS = 5;
/** Retry-After on a 429 without the header (client-go would not retry at all). */
const DEFAULT_RETRY_AFTER_MS = 1000;
/** A server asking for longer is waited for this long, so that a broken header cannot stall a caller. */
const MAX_RETRY_AFTER_MS = 60_000;

/** Reasons for statuses whose body is not a Status (a proxy in between, an old server). */
const REASON_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Gone',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export class KubeClient {
  readonly server: string;
  private readonly base: URL;
  private readonly transport: typeof http | typeof https;
  private agent: http.Agent | undefined;
  private readonly seenSockets = new WeakSet<object>();
  private socketsOpened = 0;
  private closed = false;
  private readonly limiter: TokenBucket;

  private constructor(
    private readonly kc: CredentialSource,
    server: string,
    private readonly options: KubeClientOptions,
  ) {
    this.server = server;
    this.base = new URL(server);
    if (this.base.protocol !== 'https:' && this.base.protocol !== 'http:') {
      throw new Error(`Unsupported API server URL ${server}: expected https:// or http://`);
    }
    this.transport = this.base.protocol === 'https:' ? https : http;
    this.limiter = new TokenBucket({ qps: options.qps ?? DEFAULT_QPS, burst: options.burst ?? DEFAULT_BURST });
  }

  /** The client of a resolved configuration (`apiaccess run`, the CLI): client-node is loaded only for exec plugins and auth providers. */
  static fromClientConfig(config: Pick<ResolvedClientConfig, 'credentials' | 'server'>, opts: KubeClientOptions = {}): KubeClient {
    return new KubeClient(config.credentials, config.server, opts);
  }

  /** A client from a client-node KubeConfig (tests and tools that already hold one). */
  static fromKubeConfig(kc: KubeConfig, opts: KubeClientOptions = {}): KubeClient {
    const cluster = kc.getCurrentCluster();
    if (!cluster?.server) {
      throw new Error(`The kubeconfig has no server for its current context ${JSON.stringify(kc.getCurrentContext())}`);
    }
    if (cluster.proxyUrl) {
      // Silently bypassing a configured proxy would be worse than refusing.
      throw new Error(`Cluster ${cluster.name} uses proxy-url, which this client does not support`);
    }
    return new KubeClient(kc, cluster.server, opts);
  }

  /** TCP connections opened so far: stays small when keep-alive works. */
  get connectionsOpened(): number {
    return this.socketsOpened;
  }

  async request<T>(method: Verb, path: string, opts: RequestOptions = {}): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const deadline = performance.now() + timeoutMs;
    const { response, text } = await this.retrying(opts.signal, deadline, async () => await this.exchange(method, path, opts, deadline, timeoutMs));
    if (!isSuccess(response)) throw apiErrorFrom(method, path, response, text);
    return parseBody<T>(text, response);
  }

  /** The object, or undefined when it does not exist. */
  async get<T>(path: string): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', path);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Server-side apply of `obj` (its kind must be in RESOURCES); returns the object as stored. */
  async apply<T extends KubeObject>(obj: KubeObject & { apiVersion: string; kind: string }, opts: ApplyOptions): Promise<T> {
    const resource = resourceFor(obj.apiVersion, obj.kind);
    const path = objectPath(resource, obj.metadata.namespace, obj.metadata.name, opts.subresource);
    return await this.request<T>('PATCH', path, {
      query: { fieldManager: opts.fieldManager, force: opts.force, dryRun: opts.dryRun ? 'All' : undefined },
      body: applyBody(obj, opts.subresource === 'status'),
      contentType: 'application/apply-patch+yaml',
    });
  }

  /** True when the object was deleted (or its deletion started), false when it did not exist. */
  async delete(path: string, opts: DeleteOptions = {}): Promise<boolean> {
    const body = {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      propagationPolicy: opts.propagationPolicy,
      preconditions: opts.preconditionsUid === undefined ? undefined : { uid: opts.preconditionsUid },
    };
    try {
      await this.request<unknown>('DELETE', path, { body });
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /**
   * Streams a watch until the server ends it (returns) or `signal` aborts it (throws the abort
   * reason). `watch=true` is added to `query`. A failing status throws ApiError before any event;
   * an `ERROR` event is yielded as is. No timeout: callers bound a watch with `timeoutSeconds` and
   * detect a silent one through `onActivity`, called on every received chunk.
   */
  async *watch<T>(path: string, query: Query, signal: AbortSignal, onActivity?: () => void): AsyncIterable<WatchEvent<T>> {
    const { response, text } = await this.retrying(signal, Infinity, async () => {
      const opened = await this.open('GET', path, { query: { ...query, watch: true } }, signal, 'WATCH');
      return { response: opened, text: isSuccess(opened) ? '' : await readBody(opened) };
    });
    try {
      if (!isSuccess(response)) throw apiErrorFrom('GET', path, response, text);
      const decoder = new StringDecoder('utf8');
      let pending = '';
      for await (const chunk of response as AsyncIterable<Buffer>) {
        onActivity?.();
        pending += decoder.write(chunk);
        let newline = pending.indexOf('\n');
        while (newline >= 0) {
          const line = pending.slice(0, newline).trim();
          pending = pending.slice(newline + 1);
          if (line !== '') yield parseWatchLine<T>(line, path);
          newline = pending.indexOf('\n');
        }
      }
      const rest = (pending + decoder.end()).trim();
      if (rest !== '') yield parseWatchLine<T>(rest, path);
    } catch (error) {
      if (signal.aborted) throw signal.reason ?? error;
      throw error;
    } finally {
      // A half-read watch response cannot carry another request; a complete one goes back to the pool.
      if (!response.complete) response.destroy();
    }
  }

  /** Closes every pooled connection; requests afterwards fail. */
  close(): void {
    this.closed = true;
    this.agent?.destroy();
  }

  /**
   * Repeats `attempt` while the server answers "later" (429, or a 5xx with Retry-After, as client-go's
   * checkWait), waiting as asked, up to MAX_ATTEMPTS in all and not past `deadline` (performance.now()
   * time); returns the last response.
   */
  private async retrying(signal: AbortSignal | undefined, deadline: number, attempt: () => Promise<Exchange>): Promise<Exchange> {
    for (let n = 1; ; n += 1) {
      const result = await attempt();
      const waitMs = retryDelayMs(result.response);
      if (waitMs === undefined || n >= MAX_ATTEMPTS || performance.now() + waitMs >= deadline) return result;
      if (!(await sleep(waitMs, signal))) throw signal?.reason;
    }
  }

  /** One attempt of a request, its body read, before `deadline` (the end of the request's `timeoutMs`). */
  private async exchange(method: Verb, path: string, opts: RequestOptions, deadline: number, timeoutMs: number): Promise<Exchange> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), Math.max(0, deadline - performance.now()));
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout.signal]) : timeout.signal;
    try {
      const response = await this.open(method, path, opts, signal, method);
      return { response, text: await readBody(response) };
    } catch (error) {
      if (timeout.signal.aborted && !opts.signal?.aborted) {
        throw new ApiError(`${method} ${path}: no complete response within ${timeoutMs} ms`, 0, 'Timeout', undefined, undefined, { cause: error });
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  private async open(method: Verb, path: string, opts: RequestOptions, signal: AbortSignal, verb: string): Promise<http.IncomingMessage> {
    await this.limiter.take(signal);
    if (this.closed) throw new Error(`KubeClient for ${this.server} is closed`);
    const fenced = this.options.fence?.(method, path);
    if (fenced !== undefined) throw new ApiError(`${method} ${path}: ${fenced}`, 0, 'Fenced');
    const auth = await this.authorize();
    const body = encodeBody(opts.body);
    const headers: http.OutgoingHttpHeaders = {
      ...auth,
      Accept: 'application/json',
      'User-Agent': this.options.userAgent ?? DEFAULT_USER_AGENT,
    };
    if (body !== undefined) {
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = body.length;
    }
    const started = performance.now();
    const report = (status: number): void => {
      this.options.onRequest?.({ verb, path, status, durationMs: performance.now() - started });
    };
    return await new Promise<http.IncomingMessage>((resolve, reject) => {
      const request = this.transport.request(
        this.url(path, opts.query),
        { method, agent: this.agent, headers, signal },
        (response) => {
          report(response.statusCode ?? 0);
          resolve(response);
        },
      );
      request.on('socket', (socket) => this.track(socket));
      request.on('error', (error) => {
        if (signal.aborted) {
          reject(signal.reason ?? error);
          return;
        }
        report(0);
        reject(new ApiError(`${method} ${path}: ${error.message}`, 0, 'NetworkError', undefined, undefined, { cause: error }));
      });
      request.end(body);
    });
  }

  /**
   * Credentials per request, as client-node obtains them (in-cluster token files are re-read,
   * exec/OIDC plugins refresh). The first call also builds the one shared agent from the TLS
   * material; the agent client-node creates on every call is discarded unused.
   */
  private async authorize(): Promise<http.OutgoingHttpHeaders> {
    const options: https.RequestOptions = { headers: {} };
    await this.kc.applyToHTTPSOptions(options);
    this.agent ??= this.createAgent(options);
    const headers: http.OutgoingHttpHeaders = Array.isArray(options.headers) ? {} : { ...(options.headers as http.OutgoingHttpHeaders) };
    if (typeof options.auth === 'string' && options.auth !== '') {
      headers.Authorization = `Basic ${Buffer.from(options.auth).toString('base64')}`;
    }
    return headers;
  }

  private createAgent(tls: https.RequestOptions): http.Agent {
    if (this.transport === http) return new http.Agent({ keepAlive: true });
    const options: https.AgentOptions = { keepAlive: true, ca: tls.ca, cert: tls.cert, key: tls.key, servername: tls.servername };
    // Left unset, Node verifies (unless NODE_TLS_REJECT_UNAUTHORIZED=0); client-node sets false only for insecure-skip-tls-verify.
    if (tls.rejectUnauthorized !== undefined) options.rejectUnauthorized = tls.rejectUnauthorized;
    return new https.Agent(options);
  }

  private url(path: string, query: Query | undefined): URL {
    const url = new URL(this.base.href);
    url.pathname = `${this.base.pathname.replace(/\/+$/, '')}${path}`;
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url;
  }

  private track(socket: object): void {
    if (this.seenSockets.has(socket)) return;
    this.seenSockets.add(socket);
    this.socketsOpened += 1;
  }
}

interface Exchange {
  response: http.IncomingMessage;
  /** The body of a response that is read whole ('' for a watch's stream). */
  text: string;
}

function isSuccess(response: http.IncomingMessage): boolean {
  const status = response.statusCode ?? 0;
  return status >= 200 && status < 300;
}

async function readBody(response: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody<T>(text: string, response: http.IncomingMessage): T {
  if (text === '') return undefined as T;
  const type = response.headers['content-type'] ?? '';
  if (!type.includes('json')) return text as T;
  return JSON.parse(text) as T;
}

function encodeBody(body: unknown): Buffer | undefined {
  if (body === undefined) return undefined;
  if (Buffer.isBuffer(body)) return body;
  return Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
}

function apiErrorFrom(method: string, path: string, response: http.IncomingMessage, text: string): ApiError {
  const status = response.statusCode ?? 0;
  const parsed = parseStatus(text);
  const reason = parsed?.reason || REASON_BY_STATUS[status] || 'Unknown';
  const message = parsed?.message || text.trim().slice(0, 200) || `HTTP ${status}`;
  const retryAfterMs = retryDelayMs(response) ?? suggestedDelayMs(parsed?.details);
  return new ApiError(`${method} ${path}: ${message}`, status, reason, parsed?.details, parsed ?? text, retryAfterMs === undefined ? {} : { retryAfterMs });
}

/** The wait before retrying this response, or undefined when it is not to be retried. */
function retryDelayMs(response: http.IncomingMessage): number | undefined {
  const status = response.statusCode ?? 0;
  if (status !== 429 && (status < 500 || status > 599)) return undefined;
  const header = response.headers['retry-after'];
  const seconds = typeof header === 'string' && /^\s*\d+\s*$/.test(header) ? Number(header) : undefined;
  if (seconds === undefined) return status === 429 ? DEFAULT_RETRY_AFTER_MS : undefined;
  return Math.min(seconds * 1000, MAX_RETRY_AFTER_MS);
}

/** A Status' `details.retryAfterSeconds` (metav1.StatusDetails), which client-go's SuggestsClientDelay reads. */
function suggestedDelayMs(details: unknown): number | undefined {
  const seconds = (details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
  return typeof seconds === 'number' && seconds > 0 ? Math.min(seconds * 1000, MAX_RETRY_AFTER_MS) : undefined;
}

function parseStatus(text: string): Status | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null ? (value as Status) : undefined;
  } catch {
    return undefined;
  }
}

function parseWatchLine<T>(line: string, path: string): WatchEvent<T> {
  let event: WatchEvent<T>;
  try {
    event = JSON.parse(line) as WatchEvent<T>;
  } catch (error) {
    throw new Error(`Watch ${path} sent a line that is not JSON: ${line.slice(0, 100)}`, { cause: error });
  }
  if (typeof event !== 'object' || event === null || typeof event.type !== 'string') {
    throw new Error(`Watch ${path} sent an event without a type: ${line.slice(0, 100)}`);
  }
  return event;
}

/** An ERROR watch event's Status as an ApiError (HTTP status from Status.code). */
export function apiErrorFromWatchEvent(path: string, status: unknown): ApiError {
  const s = (typeof status === 'object' && status !== null ? status : {}) as Status;
  const code = typeof s.code === 'number' ? s.code : 0;
  const retryAfterMs = suggestedDelayMs(s.details);
  return new ApiError(`WATCH ${path}: ${s.message ?? 'error event'}`, code, s.reason || REASON_BY_STATUS[code] || 'Unknown', s.details, status, retryAfterMs === undefined ? {} : { retryAfterMs });
}

/** What SSA must not receive: server-owned metadata, and status unless status is the target. */
function applyBody(obj: KubeObject, forStatus: boolean): KubeObject {
  const { managedFields: _m, resourceVersion: _r, uid: _u, creationTimestamp: _c, generation: _g, ...metadata } = obj.metadata;
  const body: KubeObject = { ...obj, metadata };
  if (!forStatus) delete body.status;
  return body;
}
