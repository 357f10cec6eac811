#!/usr/bin/env node
// Runs Faye's own engine specification (the shared behaviours "faye engine"
// and "distributed engine" of spec/javascript/engine_spec.js in a checkout of
// github.com/faye/faye) against RedisEngine, with jstest, which the checkout
// must have installed (`npm install jstest` there). Faye's spec is not copied
// into this repository; our own version of its scenarios is
// test/engine/contract.ts, which runs in `npm test`.
//
//   node --import tsx scripts/faye-engine-spec.js <faye checkout> [redis url]
//
// Every example gets a namespace of its own, removed afterwards. Exit code 1 if
// an example fails. See docs/production.md for what to expect.
'use strict';
const path = require('node:path');
const { randomBytes } = require('node:crypto');

const [checkout, redisUrl = 'redis://127.0.0.1:6379/9'] = process.argv.slice(2);
if (!checkout) {
  console.error('usage: node --import tsx scripts/faye-engine-spec.js <faye checkout> [redis url]');
  process.exit(2);
}
const fromCheckout = (name) => require(require.resolve(name, { paths: [path.resolve(checkout)] }));
const jstest = fromCheckout('jstest').Test;
const Redis = require('ioredis');
const { RedisEngine } = require('../lib/engine');
const { silentLogger } = require('../lib/log');

require(path.resolve(checkout, 'spec/javascript/engine_spec.js'));

const admin = new Redis(redisUrl);

jstest.describe('RedisEngine', function () {
  this.before(function () {
    this.namespace = `fayespec_${randomBytes(4).toString('hex')}`;
    this.engineOpts = { type: RedisEngine, redis: redisUrl, namespace: this.namespace, logger: silentLogger };
  });
  this.after(function (resume) {
    // The spec leaves its engines running: stop them, then remove the keys.
    const engines = new Set([this.engine, this.left, this.right].filter(Boolean));
    Promise.all([...engines].map((engine) => engine.disconnect()))
      .then(() => admin.keys(`${this.namespace}/*`))
      .then((keys) => (keys.length ? admin.del(...keys) : 0))
      .then(() => resume(), () => resume());
  });
  this.itShouldBehaveLike('faye engine');
  this.describe('distribution', function () {
    this.itShouldBehaveLike('distributed engine');
  });
});

// jstest prints the results and ends the process with their exit code.
jstest.autorun({});
