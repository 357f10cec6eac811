// The improved auto-disconnect (docs/protocol.md). Faye's own autodisconnect sends
// /meta/disconnect on `beforeunload`, which kills the client even when the user
// then cancels the close. Instead the page announces that it may be leaving,
// and the server checks a few seconds later whether this clientId is still
// connected.
import type { PageLifecycleTarget } from './types';

// `beforeunload` and `pagehide` of one close arrive within milliseconds of each
// other: that is one close attempt, announced once. A close that was cancelled
// in the "Leave site?" dialog and retried later is a new attempt and must be
// announced again, since the server's check after the first one found the page
// alive. The window is well under the server's 3 s check delay, so a close
// confirmed quickly is still covered by the first notice.
const SAME_ATTEMPT_MS = 1000;

/**
 * Calls `notify` on each close attempt until it reports that it announced one
 * (it may decline, e.g. while not connected); returns a function that stops watching.
 */
export function watchPageClose(target: PageLifecycleTarget, notify: () => boolean): () => void {
  let lastNotice = -Infinity;
  const onClose = () => {
    const now = Date.now();
    if (now - lastNotice < SAME_ATTEMPT_MS) return;
    if (notify()) lastNotice = now;
  };
  target.addEventListener('beforeunload', onClose);
  target.addEventListener('pagehide', onClose);
  return () => {
    target.removeEventListener('beforeunload', onClose);
    target.removeEventListener('pagehide', onClose);
  };
}
