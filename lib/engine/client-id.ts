// New clientIds: 31 base-36 digits, each drawn evenly from cryptographic
// randomness (about 160 bits), the form of Faye's own ids. Faye draws its
// digits through a general base converter, the largest single cost of a
// handshake (most of the CPU of a flood of handshake frames in
// bench:attack); here they are read straight off random bytes.
import crypto from 'node:crypto';

const DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz';
const LENGTH = 31;
/** Bytes below this fall evenly on the 36 digits (7 x 36); the others are skipped. */
const EVEN_BELOW = 252;
const POOL_BYTES = 4096;

let pool = Buffer.alloc(0);
let next = 0;

export function newClientId(): string {
  let id = '';
  while (id.length < LENGTH) {
    if (next >= pool.length) {
      pool = crypto.randomBytes(POOL_BYTES);
      next = 0;
    }
    const byte = pool[next++]!;
    if (byte < EVEN_BELOW) id += DIGITS[byte % 36];
  }
  return id;
}

/** The part of Faye's memory engine that draws clientIds (src/util/namespace.js). */
interface FayeNamespace {
  _used: Set<string>;
  generate(): string;
}

/** Has Faye's memory engine draw its clientIds with newClientId; an engine without the expected parts keeps its own. */
export function clientIdsOf(memoryEngine: { _namespace?: Partial<FayeNamespace> }): void {
  const namespace = memoryEngine._namespace;
  if (!namespace || !(namespace._used instanceof Set) || typeof namespace.generate !== 'function') return;
  const used = namespace._used;
  namespace.generate = () => {
    let id = newClientId();
    while (used.has(id)) id = newClientId();
    used.add(id);
    return id;
  };
}
