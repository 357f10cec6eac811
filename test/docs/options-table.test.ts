// docs/options.md's table of options is rendered from the options table in
// lib/options.ts, so the docs cannot drift from the code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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
