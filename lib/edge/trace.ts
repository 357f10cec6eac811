// The gem's verbose tracing, in English and structured: with the `trace` option
// (or DEBUG / DEBUG_FAYE), one debug line per tracked message that changed
// something: who, which clientId, which room and time channel, what happened
// and the room's online list afterwards. Repeated connects change nothing and
// log nothing.
//
// A user-level change (join, leave) and the clientId's own (arrive, depart) are
// separate events whose order differs (a leave is decided before the logout is
// written; a join right after the arrival); they are paired by clientId so that
// one message gives one line.
import type { DepartureReason, Presence, PresenceEvent } from '../core/presence';
import type { Logger } from '../log';

/** How long a join/leave waits for its arrive/depart before it is logged alone (a leave after a grace period). */
const PAIRING_MS = 2000;

export function tracePresence(presence: Presence, logger: Logger): void {
  const lists = new Map<string, number[]>();
  const userChanges = new Map<string, { event: PresenceEvent; timer: NodeJS.Timeout }>();

  const fields = (event: PresenceEvent, extra: object) => ({
    clientId: event.clientId, uid: event.uid, uname: event.user.uname, room: event.room, timeChannel: event.timeChannel,
    onlineList: lists.get(event.room), ...extra,
  });
  const who = (event: PresenceEvent) => `user ${event.uid} (${event.user.uname})`;
  const list = (event: PresenceEvent) => `online list now [${lists.get(event.room) ?? ''}]`;

  /** Was a user-level change seen for this clientId (now, or by the end of this tick)? */
  const paired = (clientId: string, then: (changed: boolean) => void) => {
    const take = () => {
      const change = userChanges.get(clientId);
      if (change) {
        clearTimeout(change.timer);
        userChanges.delete(clientId);
      }
      return Boolean(change);
    };
    if (take()) then(true);
    else queueMicrotask(() => then(take()));
  };
  const userChanged = (event: PresenceEvent, alone: () => void) => {
    const timer = setTimeout(() => {
      userChanges.delete(event.clientId);
      alone();
    }, PAIRING_MS);
    timer.unref();
    userChanges.set(event.clientId, { event, timer });
  };

  presence.on('roomList', (room, uids) => lists.set(room, uids));
  presence.on('arrive', (event) => paired(event.clientId, (joined) => logger.debug(
    fields(event, { joined }),
    joined
      ? `trace: ${who(event)} joined ${event.room} with clientId ${event.clientId}; ${list(event)}`
      : `trace: ${who(event)} opened another clientId ${event.clientId} in ${event.room}; online list unchanged`,
  )));
  presence.on('join', (event) => userChanged(event, () => logger.debug(fields(event, { joined: true }), `trace: ${who(event)} joined ${event.room}; ${list(event)}`)));
  presence.on('depart', (event: PresenceEvent & { reason: DepartureReason }) => paired(event.clientId, (left) => logger.debug(
    fields(event, { left, reason: event.reason }),
    left
      ? `trace: ${who(event)} left ${event.room} (clientId ${event.clientId}, ${event.reason}); ${list(event)}`
      : `trace: clientId ${event.clientId} of ${who(event)} departed from ${event.room} (${event.reason}); the user is still online there`,
  )));
  presence.on('leave', (event) => userChanged(event, () => logger.debug(
    fields(event, { left: true, reason: event.reason }),
    `trace: ${who(event)} left ${event.room} (${event.reason}); ${list(event)}`,
  )));
  presence.on('engagement', (event) => logger.debug(
    { clientId: event.clientId, uid: event.uid, uname: event.user.uname, timeChannel: event.timeChannel, engaged: event.engaged },
    event.engaged
      ? `trace: user ${event.uid} (${event.user.uname}) is engaged in ${event.timeChannel} (clientId ${event.clientId})`
      : `trace: user ${event.uid} (${event.user.uname}) is no longer engaged in ${event.timeChannel} (clientId ${event.clientId})`,
  ));
}
