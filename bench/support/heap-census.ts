// Where a server's heap goes: a V8 heap snapshot summed by what each object
// is (constructor, or "string", "closure <name>", ...): count and self bytes.
// Two servers holding the same clients (presence, plain Faye) compared class
// by class show what presence keeps per client. Self sizes only (no retained
// sizes): cheap to compute and enough to find the per-client structures.
import { readFileSync } from 'node:fs';

export interface CensusRow {
  what: string;
  count: number;
  bytes: number;
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export function heapCensus(file: string): Map<string, CensusRow> {
  const data = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = data.snapshot.meta.node_fields;
  const types = data.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const rows = new Map<string, CensusRow>();
  for (let i = 0; i < data.nodes.length; i += width) {
    const type = types[data.nodes[i + typeAt]!]!;
    const name = data.strings[data.nodes[i + nameAt]!]!;
    const what = type === 'object' || type === 'native' ? name : type === 'closure' ? `closure ${name || '(anonymous)'}` : `(${type})`;
    const row = rows.get(what) ?? { what, count: 0, bytes: 0 };
    row.count += 1;
    row.bytes += data.nodes[i + sizeAt]!;
    rows.set(what, row);
  }
  return rows;
}

/** The classes whose bytes differ most between two censuses (a - b), largest first. */
export function censusDifference(a: Map<string, CensusRow>, b: Map<string, CensusRow>, top: number): Array<{ what: string; count: number; bytes: number }> {
  const names = new Set([...a.keys(), ...b.keys()]);
  return [...names]
    .map((what) => ({ what, count: (a.get(what)?.count ?? 0) - (b.get(what)?.count ?? 0), bytes: (a.get(what)?.bytes ?? 0) - (b.get(what)?.bytes ?? 0) }))
    .sort((x, y) => Math.abs(y.bytes) - Math.abs(x.bytes))
    .slice(0, top);
}
