// Plain-text tables and durations for the CLI's reports.

/** Left-aligned columns separated by two spaces; the first row is the header. */
export function table(rows: ReadonlyArray<ReadonlyArray<string>>, indent = '  '): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows.map((row) => `${indent}${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')}`.trimEnd());
}

/** 3725 → "1h 02m 05s"; under a minute: "42s". */
export function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h) return `${h}h ${String(m).padStart(2, '0')}m ${String(s).padStart(2, '0')}s`;
  if (m) return `${m}m ${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

/** UTC, whole seconds, as the login-log table stores it. */
export function utc(date: Date | null): string {
  return date ? date.toISOString().slice(0, 19).replace('T', ' ') : '-';
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
