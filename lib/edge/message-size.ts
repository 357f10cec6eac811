// The size of an incoming Bayeux message, in bytes of its JSON, without
// writing the JSON again when the text it was parsed from already bounds it.
//
// The limit (maxMessageBytes) is on the message as JSON.stringify writes it:
// that is what Faye stores and relays. Writing every message again only to
// measure it was the largest single cost presence added to a chat's steady
// traffic. But a message cannot be much larger than the text it was parsed
// from: JSON.stringify never lengthens a string (an escape is at least as long
// as what it stands for, and one UTF-16 unit takes at most 3 bytes of UTF-8),
// and the most it lengthens a number is spelling out an exponent: "1e20", 4
// characters, becomes 21 digits. So a message parsed from a text of n UTF-16
// units is at most GROWTH * n bytes, and only a text long enough for that to
// pass the limit needs its messages measured.
const GROWTH = 6;

/**
 * Where a parsed message keeps that bound: a symbol-keyed property, which
 * JSON.stringify and Faye's copies leave out (a WeakMap entry per message cost
 * as much as the serialization it saves).
 */
const MOST_BYTES = Symbol('faye-online: most bytes as JSON');

/** Remembers, for each message parsed from `text` (one object or a batch), the most bytes it can take as JSON. */
export function noteParsed(text: string, parsed: unknown): void {
  const most = GROWTH * text.length;
  for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
    if (typeof message === 'object' && message !== null) (message as { [MOST_BYTES]?: number })[MOST_BYTES] = most;
  }
}

/** The most bytes the message can take as JSON, as its text shows (Infinity when it was not parsed here). */
export function mostBytes(message: object): number {
  return (message as { [MOST_BYTES]?: number })[MOST_BYTES] ?? Infinity;
}

/**
 * The message's size in bytes of JSON when it may be over `limit` (Infinity
 * when it cannot be written: too deep); 0 when its text shows it is not.
 */
export function bytesIfOver(message: object, limit: number): number {
  if (mostBytes(message) <= limit) return 0;
  try {
    return Buffer.byteLength(JSON.stringify(message));
  } catch {
    return Infinity;
  }
}

type ParseJson = (json: string) => unknown;

/**
 * Has the adapter note the text of every message it parses (a POST body, a
 * GET's message parameter, a WebSocket frame). Without the hook (another
 * Faye), every message is measured by writing it again, as before.
 */
export function noteParsedTexts(adapter: object, onMissing: () => void): void {
  const target = adapter as { _parseJSON?: ParseJson };
  const parse = target._parseJSON;
  if (typeof parse !== 'function') {
    onMissing();
    return;
  }
  target._parseJSON = (json: string) => {
    const parsed = parse.call(adapter, json);
    noteParsed(json, parsed);
    return parsed;
  };
}
