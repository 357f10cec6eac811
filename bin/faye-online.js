#!/usr/bin/env node
'use strict';
// The CLI is written in TypeScript and compiled to dist/ by `npm run build`
// (run automatically by `npm install`/`npm ci` through the prepare script).
let main;
try {
  main = require('../dist/lib/cli/main.js').main;
} catch (error) {
  if (error && error.code === 'MODULE_NOT_FOUND') {
    console.error('faye-online: the compiled CLI is missing (dist/). Run `npm run build` in the package folder.');
    process.exit(1);
  }
  throw error;
}
main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
