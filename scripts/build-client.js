#!/usr/bin/env node
'use strict';
// Bundles the browser client (lib/client/browser/*.ts) into dist/client/ with esbuild.
// esbuild is a devDependency: installs from the npm registry ship the built files.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const entry = path.join(root, 'lib', 'client', 'browser', 'legacy.ts');
if (!fs.existsSync(entry)) process.exit(0);

let esbuild;
try {
  esbuild = require('esbuild');
} catch {
  console.error('build-client: esbuild is not installed (npm install --include=dev); the browser client was not rebuilt.');
  process.exit(fs.existsSync(path.join(root, 'dist', 'client', 'faye-online.js')) ? 0 : 1);
}

esbuild.buildSync({
  entryPoints: [entry],
  bundle: true,
  format: 'iife',
  target: ['es2017'],
  outfile: path.join(root, 'dist', 'client', 'faye-online.js'),
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
});
