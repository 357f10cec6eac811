// Faye's NodeAdapter reads the whole body of a POST into memory before parsing
// it, with no limit of its own: one request could hold any amount of memory
// before the extension ever sees a message. So the size of a POST to the mount
// is checked before Faye reads it.
//
// Faye's clients (browser XHR, Node's HTTP transport) always send
// Content-Length; a POST without it (chunked) is refused, so that the limit
// never has to be enforced halfway through a body Faye is already reading.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { NodeAdapter } from 'faye';
import type { Logger } from '../log';
import { PRESENCE_SUFFIX } from '../protocol';

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

/**
 * Subscriptions to <room>/presence one request may carry: each reply carries
 * the room's whole state, so a hundred of them to a crowded room made one
 * response of megabytes. A page follows the rooms it shows, a few at a time.
 */
export const MAX_PRESENCE_SUBSCRIPTIONS_PER_REQUEST = 8;

function batchProblem(messages: unknown, maxMessages: number): { fields: Record<string, number>; text: string; error: string } | undefined {
  const list = Array.isArray(messages) ? messages : [messages];
  if (list.length > maxMessages) {
    return { fields: { messages: list.length, limit: maxMessages }, text: 'too many messages', error: `More than ${maxMessages} messages in one request` };
  }
  let presence = 0;
  for (const message of list) {
    if (typeof message !== 'object' || message === null || (message as { channel?: unknown }).channel !== '/meta/subscribe') continue;
    const subscription = (message as { subscription?: unknown }).subscription;
    const channels = new Set(Array.isArray(subscription) ? subscription : [subscription]);
    for (const channel of channels) if (typeof channel === 'string' && channel.endsWith(PRESENCE_SUFFIX)) presence += 1;
  }
  if (presence > MAX_PRESENCE_SUBSCRIPTIONS_PER_REQUEST) {
    return {
      fields: { presenceSubscriptions: presence, limit: MAX_PRESENCE_SUBSCRIPTIONS_PER_REQUEST },
      text: 'too many presence subscriptions',
      error: `More than ${MAX_PRESENCE_SUBSCRIPTIONS_PER_REQUEST} presence subscriptions in one request`,
    };
  }
  return undefined;
}

/**
 * Frames of one WebSocket processed at once: one. With four, the answers of
 * four frames of 50 handshakes landed in one turn of the event loop (45-67 ms
 * in bench:attack, 14-27 ms with one).
 */
export const MAX_FRAMES_IN_FLIGHT = 1;
/**
 * Frames waiting at which the server stops reading the connection's socket,
 * until every frame read has been answered: a sender faster than the server
 * is held back by TCP, as a slow reader holds back any stream. Faye's
 * WebSocket transport sends every message in a frame of its own, so a page
 * publishing in a loop sends a burst of frames; closing the connection at 64
 * waiting frames lost all but a few of 200 such publishes.
 */
export const PAUSE_FRAMES_WAITING = 16;
/**
 * Frames waiting past which the connection is closed. While the socket is not
 * read, only the rest of the read in progress (up to 64 KiB) still comes in,
 * so only frames averaging less than 64 bytes reach this.
 */
export const MAX_FRAMES_WAITING = 1024;

/** Resolved: its reactions run once the work in progress is over (a microtask). */
const SETTLED = Promise.resolve();

/** One connection's frames: how many run, which wait, and whether it was closed for sending too fast. */
interface FrameQueue {
  running: number;
  waiting: Array<() => void>;
  closed: boolean;
  /** The socket is not read until the frames waiting have been answered. */
  paused: boolean;
  /**
   * Hands a finished frame's slot to the first one waiting, so frames start in
   * the order they came and never more than the limit at once, and reads the
   * socket again once none waits. Runs on a later turn: a frame Faye answers
   * at once (a handshake on the memory engine) would otherwise free its slot
   * for the next frame of the same socket read, and a read of many frames
   * would be answered in one turn.
   */
  release(): void;
  /**
   * A frame was answered. Runs once the work in progress is over (a
   * microtask): after the rest of the socket read that brought the frame has
   * been handed over, so that its frames are waiting by then. With frames
   * waiting, the slot goes to the first on a later turn (release); with none,
   * it is free at once, without a turn of the event loop per frame.
   */
  settle(): void;
}

/** The part of a connection's socket the queue uses. */
export interface PausableSocket {
  pause(): unknown;
  resume(): unknown;
  /** True while the socket's outgoing buffer is full; its 'drain' event follows. */
  readonly writableNeedDrain?: boolean;
  once?(event: 'drain', listener: () => void): unknown;
}

function newFrameQueue(socket: PausableSocket): FrameQueue {
  let awaitingDrain = false;
  // Reads the socket again once no frame waits, but not while the answers
  // already sent have not left: a client that does not read what it is sent
  // would otherwise have the server read (and answer) one more socket read
  // after another, its answers piling up in the server's memory.
  const resumeWhenAnswered = (): void => {
    if (!q.paused || q.waiting.length > 0 || q.closed || awaitingDrain) return;
    if (socket.writableNeedDrain && socket.once) {
      awaitingDrain = true;
      socket.once('drain', () => {
        awaitingDrain = false;
        resumeWhenAnswered();
      });
      return;
    }
    q.paused = false;
    socket.resume();
  };
  const q: FrameQueue = {
    running: 0,
    waiting: [],
    closed: false,
    paused: false,
    release() {
      const next = q.waiting.shift();
      if (next) next();
      else q.running -= 1;
      resumeWhenAnswered();
    },
    settle() {
      if (q.waiting.length > 0) {
        setImmediate(q.release);
        return;
      }
      q.running -= 1;
      resumeWhenAnswered();
    },
  };
  return q;
}

/**
 * Frames of one WebSocket, a few at a time. The driver hands over every frame
 * of a socket read in the same tick, and the engine's answers to all of them
 * then come back together: 200 frames of 100 handshakes held the event loop
 * for most of a second. A frame counts until Faye answers it, except one
 * carrying /meta/connect, which Faye holds open for the long poll: that one
 * counts until the next turn.
 */
export class FrameQueues {
  private readonly queues = new WeakMap<object, FrameQueue>();

  /**
   * Runs `work` now or later. 'overflow' when the connection has too many
   * frames waiting: the caller closes it, and drops its frames still arriving
   * from the same read (closed()).
   */
  admit(request: { socket: PausableSocket }, work: (done: () => void) => void): 'queued' | 'overflow' {
    let q = this.queues.get(request);
    if (!q) this.queues.set(request, (q = newFrameQueue(request.socket)));
    const { settle } = q;
    const run = () => {
      let finished = false;
      work(() => {
        if (finished) return;
        finished = true;
        // A promise reaction: queueMicrotask would also make an async resource per frame.
        void SETTLED.then(settle);
      });
    };
    if (q.running < MAX_FRAMES_IN_FLIGHT && q.waiting.length === 0) {
      // At once, as Faye alone would: the frames after it wait for its answer.
      q.running += 1;
      run();
      return 'queued';
    }
    if (q.waiting.length >= MAX_FRAMES_WAITING) {
      q.closed = true;
      q.waiting.length = 0;
      return 'overflow';
    }
    q.waiting.push(run);
    if (!q.paused && q.waiting.length >= PAUSE_FRAMES_WAITING) {
      q.paused = true;
      request.socket.pause();
    }
    return 'queued';
  }

  /** The connection was closed for sending frames too fast: its frames still arriving are dropped. */
  closed(request: object): boolean {
    return this.queues.get(request)?.closed === true;
  }
}

/** A frame with a /meta/connect, which Faye may hold until the timeout. */
function holdsConnect(messages: unknown): boolean {
  return (Array.isArray(messages) ? messages : [messages]).some((m) => typeof m === 'object' && m !== null && (m as { channel?: unknown }).channel === '/meta/connect');
}

type Process = (messages: unknown, request: IncomingMessage | null, callback: (replies: unknown[]) => void, context?: unknown) => void;
type Upgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
/** The parts of faye-websocket's driver the limits use. */
interface Driver {
  _maxLength?: number;
  _fail?(type: string, message: string): void;
}

/**
 * Faye's Server#process runs every message of a batch through the extensions
 * and then concatenates the replies one array at a time: the cost of one batch
 * grows with the square of its length (10,000 messages in one WebSocket frame
 * held the event loop for 0.3 s, 60,000 for 9.5 s). A batch is counted here,
 * before any message is looked at, and one past the limit is refused whole:
 * over HTTP with one Bayeux error, over a WebSocket by closing the connection
 * (a Faye client never sends such a frame; whoever does is not one).
 *
 * A WebSocket frame is read whole into memory before it is parsed, and the
 * driver's own cap is 64 MiB; the frame limit here is the HTTP body limit.
 *
 * `maxUnsentBytes`: bytes written to a WebSocket that its client has not taken
 * yet, past which the connection is closed: a client that stops reading (a
 * stalled tab, or a script subscribed to a busy channel on purpose) would
 * otherwise have every message sent to it kept in the server's memory for as
 * long as it stays connected. The default, 4 MiB, is a minute of a
 * 10,000-member room's user_list.
 */
export function limitBatches(adapter: NodeAdapter, limits: { maxMessages: number; maxFrameBytes: number; maxUnsentBytes: number }, logger: Logger): void {
  const server = (adapter as unknown as { _server: { process: Process } })._server;
  const frames = new FrameQueues();
  const drivers = new WeakMap<IncomingMessage, Driver>();
  // Closes a WebSocket at once. The driver hands over every frame of a socket
  // read in one go: failing it stops the frames after this one from being
  // parsed at all (200 frames of 50 handshakes each held the event loop for
  // up to 69 ms while each was decoded, only to be dropped).
  const closeWebSocket = (request: IncomingMessage) => {
    drivers.get(request)?._fail?.('policy_violation', 'closed by the server');
    request.socket.destroy();
  };
  const process = server.process.bind(server);
  server.process = (messages, request, callback, context) => {
    if (request === null) return process(messages, request, callback, context);
    const webSocket = request.headers.upgrade?.toLowerCase() === 'websocket';
    const problem = batchProblem(messages, limits.maxMessages);
    if (problem === undefined) {
      if (!webSocket) return process(messages, request, callback, context);
      if (frames.closed(request)) return;
      // A frame with a /meta/connect holds its slot for one turn only, not
      // until Faye answers (Faye holds the connect open until the timeout), and
      // keeps nothing of ours while Faye holds it: every connected WebSocket
      // has one. In the queue all the same: 200 frames of 50 connects in one
      // socket read, let through, held the event loop for 282 ms.
      const admitted = holdsConnect(messages)
        ? frames.admit(request, (done) => {
          process(messages, request, callback, context);
          done();
        })
        : frames.admit(request, (done) => process(messages, request, (replies) => {
          done();
          callback.call(context, replies);
        }, context));
      if (admitted === 'queued') return;
      logger.warn({ waiting: MAX_FRAMES_WAITING }, 'closed a WebSocket sending frames faster than they are answered');
      closeWebSocket(request);
      return;
    }
    logger.warn({ ...problem.fields, transport: webSocket ? 'websocket' : 'http' }, `refused a Bayeux batch with ${problem.text}`);
    if (webSocket) {
      closeWebSocket(request);
      return;
    }
    callback.call(context, [{ channel: '/meta/batch', successful: false, error: `413::${problem.error}` }]);
  };

  const target = adapter as unknown as { handleUpgrade: Upgrade };
  const upgrade = target.handleUpgrade.bind(adapter);
  target.handleUpgrade = (request, socket, head) => {
    upgrade(request, socket, head);
    // faye-websocket has just piped the socket into its driver's input stream;
    // the driver parses the first bytes (head) on the next tick, so a limit set
    // now applies to every frame. A frame past it closes the connection.
    const pipes = (socket as unknown as { _readableState?: { pipes?: Array<{ _driver?: Driver }> } })._readableState?.pipes ?? [];
    const driver = pipes.find((pipe) => pipe._driver && typeof pipe._driver._maxLength === 'number')?._driver;
    if (!driver) {
      logger.warn({}, 'could not limit the WebSocket frame size and unsent bytes (faye-websocket changed?): frames up to its own 64 MiB are read');
      return;
    }
    driver._maxLength = limits.maxFrameBytes;
    drivers.set(request, driver);
    // What the client has not taken yet is the socket's writable length. It
    // is read only when a write finds the socket's buffer already full (the
    // write answers false), so a client that reads costs one call per write.
    const write = socket.write;
    let cut = false;
    socket.write = function writeUnlessStalled(this: Duplex, chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
      const taken = (write as (chunk: unknown, encoding?: unknown, callback?: unknown) => boolean).call(this, chunk, encoding, callback);
      if (taken || cut || this.writableLength <= limits.maxUnsentBytes) return taken;
      // Closing writes a close frame, which comes back here.
      cut = true;
      logger.warn({ unsentBytes: this.writableLength, limit: limits.maxUnsentBytes }, 'closed a WebSocket whose client does not take what it is sent');
      closeWebSocket(request);
      return taken;
    } as Duplex['write'];
  };
}
