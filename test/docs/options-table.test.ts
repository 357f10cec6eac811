// docs/options.md's table of options is rendered from the options table in
// lib/options.ts, so the docs cannot drift from the code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { OPTIONS, resolveOptions } from '../../lib/options';
import { OPTIONS_DOC, withCurrentTable } from '../../scripts/options-doc';

describe('the options table', () => {
  it('is the table of docs/options.md (node --import tsx scripts/options-doc.ts rewrites it)', () => {
    const text = readFileSync(OPTIONS_DOC, 'utf8');
    assert.equal(text, withCurrentTable(text), 'docs/options.md differs from OPTIONS: run `node --import tsx scripts/options-doc.ts`');
  });

  it('is the list resolveOptions knows and resolves', () => {
    assert.deepEqual(Object.keys(resolveOptions({})).sort(), Object.keys(OPTIONS).sort());
    assert.throws(() => resolveOptions({ notAnOption: 1 } as never), (error: Error) => error.message.includes(`(known: ${Object.keys(OPTIONS).join(', ')})`));
  });
});

describe("the README's summary of options", () => {
  it('names only options that exist, with the defaults the table gives', () => {
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('\n## Options'), readme.indexOf('\n## ', readme.indexOf('\n## Options') + 1));
    const rows = section.split('\n').filter((line) => line.startsWith('| `'));
    assert.ok(rows.length >= 5, 'the README lists the options most apps set');
    const known = OPTIONS as Record<string, { default: string }>;
    for (const row of rows) {
      const [namesCell, defaultsCell] = row.split('|').slice(1, 3).map((cell) => cell.trim());
      const names = namesCell.split(', ').map((name) => name.replace(/`/g, ''));
      for (const name of names) assert.ok(name in known, `README names an option that does not exist: ${name}`);
      // Where each name has its own code-quoted default, it must be the table's.
      const defaults = defaultsCell.split(', ');
      if (defaults.length !== names.length || !defaults.every((value) => /^`[^`]*`$/.test(value))) continue;
      names.forEach((name, i) => assert.equal(defaults[i], known[name].default, `README's default of ${name}`));
    }
  });
});
