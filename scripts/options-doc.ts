// Writes the options table of docs/options.md from lib/options.ts' OPTIONS:
//   node --import tsx scripts/options-doc.ts
// test/docs/options-table.test.ts fails while the file and the table differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { optionsMarkdownTable } from '../lib/options';

export const OPTIONS_DOC = join(__dirname, '..', 'docs', 'options.md');
export const START = '<!-- options table: generated from OPTIONS in lib/options.ts by scripts/options-doc.ts -->';
export const END = '<!-- end of options table -->';

/** docs/options.md's text with the table between the markers replaced by the current one. */
export function withCurrentTable(text: string): string {
  const from = text.indexOf(START);
  const to = text.indexOf(END);
  if (from < 0 || to < from) throw new Error(`${OPTIONS_DOC} has lost its markers "${START}" and "${END}"`);
  return `${text.slice(0, from + START.length)}\n${optionsMarkdownTable()}\n${text.slice(to)}`;
}

if (require.main === module) {
  const text = readFileSync(OPTIONS_DOC, 'utf8');
  const updated = withCurrentTable(text);
  writeFileSync(OPTIONS_DOC, updated);
  console.log(updated === text ? 'docs/options.md: the options table was up to date' : 'docs/options.md: options table rewritten');
}
