// A file the kubelet replaces while the proxy runs (the projected token, the rules ConfigMap): read
// at start, then checked at most every `intervalMs` and read again only when it changed. The kubelet
// swaps a `..data` symlink, so a change shows as a new inode or mtime behind the same path. A read
// or parse that fails keeps the last good value: a half-written or invalid file must not take the
// proxy down or open it up.
import { readFileSync, statSync, type Stats } from 'node:fs';

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export interface WatchedFileOptions<T> {
  readonly path: string;
  readonly parse: (text: string) => Parsed<T>;
  readonly intervalMs: number;
  /** Called once per change that could not be used; the last good value stays in force. */
  readonly onRejected?: (error: string) => void;
  readonly onReplaced?: () => void;
  readonly now?: () => number;
}

export class WatchedFile<T> {
  private value: T;
  private version: string;
  private checkedAt: number;
  private readonly now: () => number;

  private constructor(
    private readonly options: WatchedFileOptions<T>,
    first: { value: T; version: string },
  ) {
    this.now = options.now ?? Date.now;
    this.value = first.value;
    this.version = first.version;
    this.checkedAt = this.now();
  }

  /** The file read and parsed once, or the reason it cannot be used (naming the file). */
  static load<T>(options: WatchedFileOptions<T>): Parsed<WatchedFile<T>> {
    const read = readVersioned(options.path, options.parse);
    if (!read.ok) return read;
    return { ok: true, value: new WatchedFile(options, read.value) };
  }

  /** The current value; at most every intervalMs this stats the file and re-reads it if it changed. */
  current(): T {
    const now = this.now();
    if (now - this.checkedAt < this.options.intervalMs) return this.value;
    this.checkedAt = now;
    let version: string;
    try {
      version = versionOf(statSync(this.options.path));
    } catch (error) {
      // Gone for now (the kubelet between two swaps, or a deleted ConfigMap): keep the last good value.
      this.reject(`${this.options.path}: cannot be read (${errorCode(error)})`, `missing:${errorCode(error)}`);
      return this.value;
    }
    if (version === this.version) return this.value;
    const read = readVersioned(this.options.path, this.options.parse);
    if (read.ok) {
      this.value = read.value.value;
      this.version = read.value.version;
      this.options.onReplaced?.();
    } else {
      this.reject(read.error, version);
    }
    return this.value;
  }

  private reject(error: string, version: string): void {
    if (version === this.version) return;
    this.version = version;
    this.options.onRejected?.(error);
  }
}

function readVersioned<T>(path: string, parse: (text: string) => Parsed<T>): Parsed<{ value: T; version: string }> {
  let text: string;
  let version: string;
  try {
    version = versionOf(statSync(path));
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return { ok: false, error: `${path}: cannot be read (${errorCode(error)})` };
  }
  const parsed = parse(text);
  if (!parsed.ok) return { ok: false, error: `${path}: ${parsed.error}` };
  return { ok: true, value: { value: parsed.value, version } };
}

function versionOf(stats: Stats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`;
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}
