// Snapshots of the host's iptables and ip6tables (as `iptables-save` prints them, without counters)
// and the undo script that removes whatever appeared since: the kubelet, kube-proxy and the CNI
// plugins add chains of their own (KUBE-*, CNI-*) and jumps to them from the built-in chains.
import { runHost } from './host-command.ts';

export type IptablesFamily = 'iptables' | 'ip6tables';
export const IPTABLES_FAMILIES: readonly IptablesFamily[] = ['iptables', 'ip6tables'];
const BUILT_IN_CHAINS = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);

export interface IptablesTable {
  /** chain -> policy (`-` for user-defined chains) */
  readonly chains: Readonly<Record<string, string>>;
  /** `-A CHAIN ...` lines in order */
  readonly rules: readonly string[];
}

export type IptablesSnapshot = Readonly<Record<string, IptablesTable>>;

/** Undefined when the family's tools are not installed (nothing to record or restore). */
export async function saveIptables(family: IptablesFamily): Promise<IptablesSnapshot | undefined> {
  const result = await runHost(`${family}-save`, []);
  if (result.code === 127) return undefined;
  if (result.code !== 0) throw new Error(`${family}-save failed (exit ${result.code}): ${result.stderr}`);
  return parseIptablesSave(result.stdout);
}

export function parseIptablesSave(text: string): IptablesSnapshot {
  const tables: Record<string, { chains: Record<string, string>; rules: string[] }> = {};
  let current: { chains: Record<string, string>; rules: string[] } | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      current = { chains: {}, rules: [] };
      tables[line.slice(1).trim()] = current;
    } else if (line.startsWith(':') && current) {
      const [chain, policy] = line.slice(1).split(' ');
      current.chains[chain!] = policy ?? '-';
    } else if (line.startsWith('-A ') && current) {
      current.rules.push(line.trim());
    }
  }
  return tables;
}

/**
 * An `iptables-restore --noflush` script that takes `now` back to `before`: rules added to chains
 * that existed are deleted, chains that did not exist are flushed and deleted, changed policies of
 * built-in chains are reset. Empty when nothing changed.
 */
export function undoScript(before: IptablesSnapshot, now: IptablesSnapshot): string {
  const out: string[] = [];
  for (const [table, current] of Object.entries(now)) {
    const old = before[table] ?? { chains: {}, rules: [] };
    const lines: string[] = [];
    const remaining = countLines(old.rules);
    for (const rule of current.rules) {
      const chain = rule.split(' ')[1]!;
      if (!(chain in old.chains)) continue;
      const left = remaining.get(rule) ?? 0;
      if (left > 0) remaining.set(rule, left - 1);
      else lines.push(`-D ${rule.slice(3)}`);
    }
    const added = Object.keys(current.chains).filter((c) => !(c in old.chains));
    for (const chain of added) lines.push(`-F ${chain}`);
    // Built-in chains of a table that appeared cannot be deleted with iptables (legacy refuses):
    // emptied here, they go with their table (removeNewNftTables), or stay, empty, with legacy.
    for (const chain of added) if (!BUILT_IN_CHAINS.has(chain)) lines.push(`-X ${chain}`);
    for (const [chain, policy] of Object.entries(current.chains)) {
      const was = old.chains[chain];
      if (was !== undefined && was !== '-' && was !== policy) lines.push(`-P ${chain} ${was}`);
    }
    if (lines.length > 0) out.push(`*${table}`, ...lines, 'COMMIT');
  }
  return out.length > 0 ? `${out.join('\n')}\n` : '';
}

export async function restoreIptables(family: IptablesFamily, before: IptablesSnapshot): Promise<string[]> {
  const now = await saveIptables(family);
  if (!now) return [];
  const script = undoScript(before, now);
  if (script === '') return [];
  const result = await runHost(`${family}-restore`, ['--noflush'], { input: script });
  if (result.code !== 0) throw new Error(`${family}-restore --noflush failed (exit ${result.code}): ${result.stderr}\nscript:\n${script}`);
  const lines = script.split('\n');
  const chains = lines.filter((l) => l.startsWith('-X ')).map((l) => l.slice(3));
  const rules = lines.filter((l) => l.startsWith('-D ')).length;
  return [`${family}: removed ${chains.length} chain(s) (${chains.join(', ')}) and ${rules} rule(s) in chains that existed before`];
}



function countLines(lines: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) counts.set(line, (counts.get(line) ?? 0) + 1);
  return counts;
}
