#!/usr/bin/env node
'use strict';
// Copies non-TypeScript assets that the compiled code reads at run time (Lua
// scripts, the dashboard's pages) from lib/ to dist/lib/, keeping their folders.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const from = path.join(root, 'lib');
const to = path.join(root, 'dist', 'lib');

function copy(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) copy(full);
    else if (entry.name.endsWith('.lua') || path.basename(dir) === 'assets') {
      const target = path.join(to, path.relative(from, full));
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.copyFileSync(full, target);
    }
  }
}
copy(from);
