// A deterministic tar writer: the same entries give the same bytes. Every entry has uid/gid 0, no
// user or group names and one fixed mtime; paths longer than ustar allows go into PAX headers. Image
// layers must be byte-identical across builds for the image digest to be reproducible, which
// neither GNU tar's defaults nor a directory walk in readdir order give.
import { lstat, readdir, readlink } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';

export type TarEntry =
  | { readonly type: 'dir'; readonly path: string; readonly mode: number }
  | { readonly type: 'symlink'; readonly path: string; readonly target: string }
  | { readonly type: 'file'; readonly path: string; readonly mode: number; readonly size: number; readonly content: Buffer | (() => AsyncIterable<Buffer>) };

const BLOCK = 512;
const USTAR_NAME_MAX = 100;

/** SOURCE_DATE_EPOCH (reproducible-builds.org) or 0: the mtime of every entry and the image creation time. */
export function sourceDateEpoch(): number {
  const raw = process.env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return 0;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`SOURCE_DATE_EPOCH must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return value;
}

/** The tar stream of the entries, in the order given, closed by two zero blocks. */
export async function* tarStream(entries: Iterable<TarEntry>, mtime: number): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    yield* headerBlocks(entry, mtime);
    if (entry.type !== 'file') continue;
    let written = 0;
    if (Buffer.isBuffer(entry.content)) {
      written = entry.content.length;
      yield entry.content;
    } else {
      for await (const chunk of entry.content()) {
        written += chunk.length;
        yield chunk;
      }
    }
    if (written !== entry.size) throw new Error(`tar entry ${entry.path} changed while writing: ${entry.size} bytes expected, ${written} written`);
    const pad = (BLOCK - (written % BLOCK)) % BLOCK;
    if (pad > 0) yield Buffer.alloc(pad);
  }
  yield Buffer.alloc(2 * BLOCK);
}

export interface TreeOptions {
  /** Prefix of every path in the archive, e.g. 'usr/local/lib/apiaccess' (no leading or trailing slash). */
  readonly prefix?: string;
  /**
   * 'normalise' (default): umask and checkout permissions do not reach the digest: directories and
   * executables 0755, other files 0644. 'world-readable': the tree's own modes without setuid/setgid,
   * plus read (and search) for everyone, so an image runs as any uid; the sticky bit stays (/tmp).
   */
  readonly modes?: 'normalise' | 'world-readable';
  /** Paths (relative to root, directories without the trailing slash) left out with everything below them. */
  readonly exclude?: (path: string) => boolean;
}

/**
 * The entries of a directory tree, sorted by path (bytewise), directories before their contents.
 * Hard links become separate files; sockets, devices and fifos are refused.
 */
export async function treeEntries(root: string, options: TreeOptions = {}): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  const prefix = options.prefix ?? '';
  if (prefix !== '') entries.push(...parentDirs(prefix));
  await walk(root, '', { prefix, modes: options.modes ?? 'normalise', exclude: options.exclude ?? (() => false) }, entries);
  return entries;
}

/** The directory entries for each ancestor of path, including path itself: 'a/b' gives 'a/', 'a/b/'. */
export function parentDirs(path: string): TarEntry[] {
  const parts = path.split('/').filter((p) => p !== '');
  return parts.map((_, i) => ({ type: 'dir', path: `${parts.slice(0, i + 1).join('/')}/`, mode: 0o755 }));
}

/** Sorted by path, deduplicating directories (the first occurrence wins); a duplicate file is an error. */
export function mergeEntries(...lists: TarEntry[][]): TarEntry[] {
  const byPath = new Map<string, TarEntry>();
  for (const entry of lists.flat()) {
    const existing = byPath.get(entry.path);
    if (existing === undefined) byPath.set(entry.path, entry);
    else if (existing.type !== 'dir' || entry.type !== 'dir') throw new Error(`two layer entries for the same path ${entry.path}`);
  }
  return [...byPath.values()].sort((a, b) => compareBytes(a.path, b.path));
}

interface WalkOptions {
  readonly prefix: string;
  readonly modes: 'normalise' | 'world-readable';
  readonly exclude: (path: string) => boolean;
}

async function walk(root: string, relativeDir: string, options: WalkOptions, out: TarEntry[]): Promise<void> {
  const names = (await readdir(join(root, relativeDir))).sort(compareBytes);
  for (const name of names) {
    const relativePath = relativeDir === '' ? name : `${relativeDir}/${name}`;
    if (options.exclude(relativePath)) continue;
    const full = join(root, relativePath);
    const path = options.prefix === '' ? relativePath : `${options.prefix}/${relativePath}`;
    const stat = await lstat(full);
    if (stat.isSymbolicLink()) {
      out.push({ type: 'symlink', path, target: await readlink(full) });
    } else if (stat.isDirectory()) {
      out.push({ type: 'dir', path: `${path}/`, mode: entryMode(stat.mode, true, options.modes) });
      await walk(root, relativePath, options, out);
    } else if (stat.isFile()) {
      out.push({ type: 'file', path, mode: entryMode(stat.mode, false, options.modes), size: stat.size, content: () => createReadStream(full) });
    } else {
      throw new Error(`cannot put ${full} into a layer: only files, directories and symbolic links are supported`);
    }
  }
}

function entryMode(mode: number, isDir: boolean, modes: WalkOptions['modes']): number {
  const executable = isDir || (mode & 0o111) !== 0;
  if (modes === 'normalise') return executable ? 0o755 : 0o644;
  return (mode & 0o1777) | 0o444 | (executable ? 0o111 : 0);
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function* headerBlocks(entry: TarEntry, mtime: number): Generator<Buffer> {
  const linkname = entry.type === 'symlink' ? entry.target : '';
  const pax: Record<string, string> = {};
  if (!fitsUstar(entry.path)) pax.path = entry.path;
  if (!fitsUstar(linkname)) pax.linkpath = linkname;
  if (Object.keys(pax).length > 0) {
    const body = paxBody(pax);
    yield header({ name: 'PaxHeader', mode: 0o644, size: body.length, type: 'x', linkname: '', mtime });
    yield body;
    const pad = (BLOCK - (body.length % BLOCK)) % BLOCK;
    if (pad > 0) yield Buffer.alloc(pad);
  }
  const name = truncate(entry.path);
  if (entry.type === 'dir') yield header({ name, mode: entry.mode, size: 0, type: '5', linkname: '', mtime });
  else if (entry.type === 'symlink') yield header({ name, mode: 0o777, size: 0, type: '2', linkname: truncate(linkname), mtime });
  else yield header({ name, mode: entry.mode, size: entry.size, type: '0', linkname: '', mtime });
}

function fitsUstar(value: string): boolean {
  return Buffer.byteLength(value) <= USTAR_NAME_MAX && /^[\x20-\x7e]*$/.test(value);
}

function truncate(value: string): string {
  return Buffer.from(value).subarray(0, USTAR_NAME_MAX).toString('latin1').replace(/[^\x20-\x7e]/g, '_');
}

/** PAX records are "<length> <key>=<value>\n" where length counts the whole record, itself included. */
function paxBody(records: Record<string, string>): Buffer {
  const lines = Object.entries(records).map(([key, value]) => {
    const rest = ` ${key}=${value}\n`;
    let length = Buffer.byteLength(rest) + 1;
    while (String(length).length + Buffer.byteLength(rest) !== length) length = String(length).length + Buffer.byteLength(rest);
    return `${length}${rest}`;
  });
  return Buffer.from(lines.join(''));
}

interface Header {
  readonly name: string;
  readonly mode: number;
  readonly size: number;
  readonly type: '0' | '2' | '5' | 'x';
  readonly linkname: string;
  readonly mtime: number;
}

function header(h: Header): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(h.name, 0, 100, 'latin1');
  octal(block, 100, 8, h.mode);
  octal(block, 108, 8, 0);
  octal(block, 116, 8, 0);
  octal(block, 124, 12, h.size);
  octal(block, 136, 12, h.mtime);
  block.fill(' ', 148, 156);
  block.write(h.type, 156, 1, 'latin1');
  block.write(h.linkname, 157, 100, 'latin1');
  block.write('ustar\x0000', 257, 8, 'latin1');
  octal(block, 329, 8, 0);
  octal(block, 337, 8, 0);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\x00 `, 148, 8, 'latin1');
  return block;
}

function octal(block: Buffer, offset: number, length: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length > length - 1) throw new Error(`tar header field of ${length} bytes cannot hold ${value}`);
  block.write(`${digits.padStart(length - 1, '0')}\x00`, offset, length, 'latin1');
}
