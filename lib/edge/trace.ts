// The gem's verbose tracing, in English and structured: with the `trace` option
// (or DEBUG / DEBUG_FAYE), one debug line per presence transition: who, which
// clientId, which room and time channel, what happened and the room's online
// list afterwards. Repeated connects change nothing and log nothing. A
// transition already holds a clientId's change and its user's together, so
// one message gives one line.
import type { Transition } from '../core/presence';
import type { Logger } from '../log';

function who(t: Transition): string {
  return `user ${t.uid} (${t.user.uname})`;
}

function list(t: Transition): string {
  return `online list now [${t.list ?? ''}]`;
}

function fields(t: Transition, extra: object): object {
  return { clientId: t.clientId, uid: t.uid, uname: t.user.uname, room: t.room, timeChannel: t.timeChannel, ...(t.list ? { onlineList: t.list } : {}), ...extra };
}

/** The trace line of a transition, if it is one worth a line. */
export function traceLine(t: Transition): { fields: object; message: string } | null {
  const joined = t.membership === 'joined';
  const left = t.membership === 'left';
  if (t.client === 'arrived') {
    return joined
      ? { fields: fields(t, { joined }), message: `trace: ${who(t)} joined ${t.room} with clientId ${t.clientId}; ${list(t)}` }
      : { fields: fields(t, { joined }), message: `trace: ${who(t)} opened another clientId ${t.clientId} in ${t.room}; online list unchanged` };
  }
  if (t.client === 'departed') {
    return left
      ? { fields: fields(t, { left, reason: t.reason }), message: `trace: ${who(t)} left ${t.room} (clientId ${t.clientId}, ${t.reason}); ${list(t)}` }
      : { fields: fields(t, { left, reason: t.reason }), message: `trace: clientId ${t.clientId} of ${who(t)} departed from ${t.room} (${t.reason}); the user is still online there` };
  }
  // A leave after its grace period, or one found by reconciliation.
  if (left) return { fields: fields(t, { left, reason: t.reason }), message: `trace: ${who(t)} left ${t.room} (${t.reason}); ${list(t)}` };
  if (joined) return { fields: fields(t, { joined }), message: `trace: ${who(t)} joined ${t.room}; ${list(t)}` };
  if (t.engagement) {
    const fieldsOf = { clientId: t.clientId, uid: t.uid, uname: t.user.uname, timeChannel: t.timeChannel, engaged: t.engagement === 'started' };
    return t.engagement === 'started'
      ? { fields: fieldsOf, message: `trace: ${who(t)} is engaged in ${t.timeChannel} (clientId ${t.clientId})` }
      : { fields: fieldsOf, message: `trace: ${who(t)} is no longer engaged in ${t.timeChannel} (clientId ${t.clientId})` };
  }
  return null;
}

export function trace(logger: Logger, t: Transition): void {
  const line = traceLine(t);
  if (line) logger.debug(line.fields, line.message);
}
