// Calls of each function in a window, from V8's precise coverage with call
// counts (bench server's 'callCounts'), compared between two servers per
// /meta/connect: exact counts of the work one does and the other does not,
// where a CPU profile only samples it.
import fs from 'node:fs';

interface Coverage {
  url: string;
  functions: Array<{ functionName: string; ranges: Array<{ startOffset: number; count: number }> }>;
}

/** Calls by function, named "name file:offset" (the package, node_modules and Node's own code shortened). */
export function callCounts(file: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const script of JSON.parse(fs.readFileSync(file, 'utf8')) as Coverage[]) {
    const where = script.url.replace(/^.*\/node_modules\//, '').replace(/^.*\/dist\//, '').replace(/^node:/, '');
    for (const fn of script.functions) {
      const range = fn.ranges[0];
      if (!range || range.count === 0) continue;
      const name = `${fn.functionName || '(anonymous)'} ${where}:${range.startOffset}`;
      counts.set(name, (counts.get(name) ?? 0) + range.count);
    }
  }
  return counts;
}

/** The `top` functions whose calls per connect differ most (presence minus the baseline), largest first. */
export function callCountDifference(presenceFile: string, presenceConnects: number, baselineFile: string, baselineConnects: number, top: number) {
  const presence = callCounts(presenceFile);
  const baseline = callCounts(baselineFile);
  const names = new Set([...presence.keys(), ...baseline.keys()]);
  return [...names]
    .map((name) => {
      const p = (presence.get(name) ?? 0) / Math.max(1, presenceConnects);
      const b = (baseline.get(name) ?? 0) / Math.max(1, baselineConnects);
      return { name, presence: p, baseline: b, difference: p - b };
    })
    .sort((x, y) => Math.abs(y.difference) - Math.abs(x.difference))
    .slice(0, top);
}
