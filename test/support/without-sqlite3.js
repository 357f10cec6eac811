'use strict';
// Preloaded (node --require) to run a process as on a machine where the
// optional sqlite3 package was not installed: resolving it fails as npm would.
const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'sqlite3') {
    const error = new Error("Cannot find module 'sqlite3'");
    error.code = 'MODULE_NOT_FOUND';
    throw error;
  }
  return resolve.call(this, request, ...rest);
};
