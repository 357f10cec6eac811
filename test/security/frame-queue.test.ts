// The frame queue of one WebSocket connection, on its own: one frame at a
// time, the socket not read while frames wait, and closed only when more
// frames pile up than one socket read of tiny frames could bring; and not read
// again while the answers already sent have not left.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, test } from 'node:test';
import { FrameQueues, MAX_FRAMES_WAITING, PAUSE_FRAMES_WAITING } from '../../lib/edge/request-limit';

function connection() {
  const socket = Object.assign(new EventEmitter(), {
    pauses: 0,
    resumes: 0,
    writableNeedDrain: false,
    pause() { socket.pauses += 1; },
    resume() { socket.resumes += 1; },
  });
  return { socket };
}

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('a WebSocket connection\'s frame queue', () => {
  test(`stops reading the socket at ${PAUSE_FRAMES_WAITING} waiting frames and reads again once none waits`, async () => {
    const queues = new FrameQueues();
    const request = connection();
    const ran: number[] = [];
    let finishFirst: () => void = () => undefined;
    assert.equal(queues.admit(request, (done) => { ran.push(0); finishFirst = done; }), 'queued');
    for (let i = 1; i <= PAUSE_FRAMES_WAITING; i++) {
      assert.equal(queues.admit(request, (done) => { ran.push(i); done(); }), 'queued');
      assert.equal(request.socket.pauses, i < PAUSE_FRAMES_WAITING ? 0 : 1, `${i} frames waiting`);
    }
    assert.deepEqual(ran, [0], 'one frame at a time');
    finishFirst();
    await turns(PAUSE_FRAMES_WAITING - 1);
    assert.equal(request.socket.resumes, 0, 'still waiting frames: the socket stays unread');
    await turns(3);
    assert.deepEqual(ran, Array.from({ length: PAUSE_FRAMES_WAITING + 1 }, (_, i) => i), 'in the order they came, one per turn');
    assert.deepEqual([request.socket.pauses, request.socket.resumes], [1, 1]);
  });

  test(`a connection with more than ${MAX_FRAMES_WAITING} frames waiting overflows, and its queue stays closed`, () => {
    const queues = new FrameQueues();
    const request = connection();
    queues.admit(request, () => undefined);
    for (let i = 0; i < MAX_FRAMES_WAITING; i++) assert.equal(queues.admit(request, () => assert.fail('a waiting frame ran')), 'queued');
    assert.equal(queues.admit(request, () => assert.fail('ran')), 'overflow');
    assert.equal(queues.closed(request), true);
    assert.equal(queues.closed(connection()), false);
  });

  test('after the waiting frames are answered, the socket is read again only once its answers have left', async () => {
    const queues = new FrameQueues();
    const request = connection();
    for (let i = 0; i <= PAUSE_FRAMES_WAITING; i++) queues.admit(request, (done) => done());
    assert.equal(request.socket.pauses, 1);
    // The client does not take what it is sent: the socket's outgoing buffer is full.
    request.socket.writableNeedDrain = true;
    await turns(PAUSE_FRAMES_WAITING + 3);
    assert.equal(request.socket.resumes, 0, 'read again while its answers pile up');
    request.socket.writableNeedDrain = false;
    request.socket.emit('drain');
    assert.equal(request.socket.resumes, 1);
    request.socket.emit('drain');
    assert.equal(request.socket.resumes, 1, 'one drain listener, gone once it ran');
  });

  test('a frame answered with none waiting frees its slot once the work in progress is over, not a turn later', async () => {
    const queues = new FrameQueues();
    const request = connection();
    let immediate = false;
    setImmediate(() => (immediate = true));
    queues.admit(request, (done) => done());
    let second = false;
    queues.admit(request, (done) => { second = true; done(); });
    assert.equal(second, false, 'a frame of the same read waits');
    await turns(2);
    assert.equal(second, true, 'its turn came');
    let third = false;
    queues.admit(request, (done) => { third = true; done(); });
    assert.equal(third, true, 'nothing waits: the next frame runs at once');
    assert.equal(immediate, true);
  });
});
