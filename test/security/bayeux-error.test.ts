// Refusals are written in the Bayeux error grammar, so that Faye's own clients
// (Node, browser) split them into a numeric `code` and a `message` instead of
// handing the page one opaque string.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bayeuxError } from '../../lib/edge/extension';

// Faye's parser and grammar, as its clients use them.
const FayeError = require('faye/src/protocol/error') as { parse(text: string): { code: number | null; message: string } };
const grammar = require('faye/src/protocol/grammar') as { ERROR: RegExp };

test('every refusal text parses into its code and a readable message', () => {
  const cases: Array<[number, string, string]> = [
    [401, "Invalid auth: room_channel must be '/'-separated letters and digits, at most 255 characters",
      'Invalid auth - room_channel must be /-separated letters and digits - at most 255 characters'],
    [401, 'Auth not accepted: auth expired at 2026-11-28T18:00:00.000Z', 'Auth not accepted - auth expired at 2026-11-28T18.00.00.000Z'],
    [400, 'Malformed engagement report: data.engaged must be true or false', 'Malformed engagement report - data.engaged must be true or false'],
    [403, 'Subscription to /classes/4/user_list refused', 'Subscription to /classes/4/user_list refused'],
    [400, 'weird {"json": [1, 2]} <tags> & "quotes" | pipes', 'weird json - 1 - 2 tags quotes pipes'],
  ];
  for (const [code, text, message] of cases) {
    const wire = bayeuxError(code, text);
    assert.match(wire, grammar.ERROR, wire);
    const parsed = FayeError.parse(wire);
    assert.equal(parsed.code, code, wire);
    assert.equal(parsed.message, message);
  }
});
