// Faye's NodeAdapter reads the whole body of a POST into memory before parsing
// it, with no limit of its own: one request could hold any amount of memory
// before the extension ever sees a message. So the size of a POST to the mount
// is checked before Faye reads it.
//
// Faye's clients (browser XHR, Node's HTTP transport) always send
// Content-Length; a POST without it (chunked) is refused, so that the limit
// never has to be enforced halfway through a body Faye is already reading.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeAdapter } from 'faye';
import type { Logger } from '../log';

type Handle = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * The largest POST body accepted: a batch of messages. Faye's clients flush a
 * batch once it passes 2 KiB, so a body holds at most one largest message plus
 * a little; twice the message limit leaves room for that.
 */
export function bodyLimitFor(maxMessageBytes: number): number {
  return 2 * maxMessageBytes;
}

export function limitRequestBodies(adapter: NodeAdapter, maxBodyBytes: number, logger: Logger): void {
  const target = adapter as unknown as { handle: Handle };
  const handle = target.handle.bind(adapter);
  target.handle = (request, response) => {
    if (request.method !== 'POST') return handle(request, response);
    const header = request.headers['content-length'];
    const declared = header === undefined ? NaN : Number(header);
    if (Number.isInteger(declared) && declared >= 0 && declared <= maxBodyBytes) return handle(request, response);

    const [status, text] = header === undefined
      ? [411, 'Content-Length is required']
      : [413, `Request body larger than ${maxBodyBytes} bytes`];
    logger.warn({ status, contentLength: header, limit: maxBodyBytes, url: request.url?.slice(0, 200) }, 'refused a Bayeux HTTP request by its size');
    // The body is not read: the connection is closed after the answer.
    response.writeHead(status, { 'Content-Type': 'text/plain', Connection: 'close' });
    response.end(text, () => request.destroy());
  };
}
