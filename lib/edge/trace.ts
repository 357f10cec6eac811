// The gem's verbose tracing, in English and structured: with the `trace` option
// (or DEBUG / DEBUG_FAYE), one debug line per tracked message that changed
// something: who, which clientId, which room and time channel, what happened
// and the room's online list afterwards. Repeated connects change nothing and
// log nothing.
import type { Presence, PresenceEvent, DepartureReason } from '../core/presence';
import type { Logger } from '../log';

export function tracePresence(presence: Presence, logger: Logger): void {
  const lists = new Map<string, number[]>();
  // join/leave follow arrive/depart in the same tick; one line reports both.
  const pending = new Map<string, { line: () => void; userChange: boolean }>();
  const later = (clientId: string, make: (userChange: boolean) => void) => {
    const entry = { userChange: false, line: () => make(entry.userChange) };
    pending.set(clientId, entry);
    queueMicrotask(() => {
      if (pending.get(clientId) !== entry) return;
      pending.delete(clientId);
      entry.line();
    });
  };
  const fields = (event: PresenceEvent, extra: object) => ({
    clientId: event.clientId, uid: event.uid, uname: event.user.uname, room: event.room, timeChannel: event.timeChannel,
    onlineList: lists.get(event.room), ...extra,
  });

  presence.on('roomList', (room, list) => lists.set(room, list));
  presence.on('arrive', (event) => later(event.clientId, (joined) => logger.debug(
    fields(event, { joined }),
    joined
      ? `trace: user ${event.uid} (${event.user.uname}) joined ${event.room} with clientId ${event.clientId}; online list now [${lists.get(event.room) ?? ''}]`
      : `trace: user ${event.uid} (${event.user.uname}) opened another clientId ${event.clientId} in ${event.room}; online list unchanged`,
  )));
  presence.on('join', (event) => markUserChange(event.clientId));
  presence.on('depart', (event: PresenceEvent & { reason: DepartureReason }) => later(event.clientId, (left) => logger.debug(
    fields(event, { left, reason: event.reason }),
    left
      ? `trace: user ${event.uid} (${event.user.uname}) left ${event.room} (clientId ${event.clientId}, ${event.reason}); online list now [${lists.get(event.room) ?? ''}]`
      : `trace: clientId ${event.clientId} of user ${event.uid} (${event.user.uname}) departed from ${event.room} (${event.reason}); the user is still online there`,
  )));
  presence.on('leave', (event) => markUserChange(event.clientId));

  function markUserChange(clientId: string): void {
    const entry = pending.get(clientId);
    if (entry) entry.userChange = true;
  }
}
