// Every list the dashboard shows is a Table: named columns and plain rows.
// The JSON endpoints send one page of it (the pages never hold 10,000 rows),
// and `format=csv` sends all of it, so that every table exports the same way.
import type { Paging } from './input';

export type ColumnKind = 'text' | 'number' | 'seconds' | 'time';

export interface Column {
  key: string;
  label: string;
  /** How the page shows it: seconds as h:mm:ss, times in the server's zone. */
  kind: ColumnKind;
}

export type Cell = string | number | boolean | Date | null;
export type Row = Record<string, Cell>;

export interface Table {
  columns: Column[];
  rows: Row[];
}

export interface TablePage {
  columns: Column[];
  rows: Row[];
  total: number;
  offset: number;
  limit: number;
}

export function column(key: string, label: string, kind: ColumnKind = 'text'): Column {
  return { key, label, kind };
}

export function pageOf(table: Table, paging: Paging): TablePage {
  return { columns: table.columns, rows: table.rows.slice(paging.offset, paging.offset + paging.limit), total: table.rows.length, offset: paging.offset, limit: paging.limit };
}

/** RFC 4180 CSV with a header line; times in ISO 8601 UTC. */
export function toCsv(table: Table): string {
  const lines = [table.columns.map((c) => csvField(c.label)), ...table.rows.map((row) => table.columns.map((c) => csvField(row[c.key] ?? null)))];
  return lines.map((fields) => fields.join(',')).join('\r\n') + '\r\n';
}

function csvField(value: Cell): string {
  if (value === null) return '';
  if (value instanceof Date) return value.toISOString();
  let text = String(value);
  // A spreadsheet runs a cell starting with = + - @ as a formula; user names come from pages, so they are not trusted.
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
