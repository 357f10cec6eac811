// Engagement: whether the user is with this page right now. The page is
// engaged while it is visible (Page Visibility API) and, when idleness is
// watched, while input keeps coming (no pointer, key, wheel or touch event for
// `idleAfterMs` makes it idle). The client reports each change to the server,
// which keeps engaged time beside the gem's connected time.
import type { EngagementTarget } from './types';

/** Input events that show the user is there. Passive listeners: they never delay scrolling. */
const INPUT_EVENTS = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart', 'scroll'] as const;

export interface EngagementWatch {
  readonly engaged: boolean;
  stop(): void;
}

/**
 * Watches `target` (the document) and calls `onChange` with each change of
 * engagement. Idleness is watched only when `idleAfterMs` > 0.
 */
export function watchEngagement(target: EngagementTarget, idleAfterMs: number, onChange: (engaged: boolean) => void): EngagementWatch {
  const visible = () => target.visibilityState !== 'hidden';
  let lastInput = Date.now();
  let idle = false;
  let engaged = visible();
  let timer: ReturnType<typeof setTimeout> | undefined;

  const update = () => {
    const next = visible() && !idle;
    if (next === engaged) return;
    engaged = next;
    onChange(engaged);
  };
  // One timer per idle period, not one per event: input only records its time,
  // and the timer, when it fires early, waits for the rest of the period.
  const arm = (delay: number) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const quiet = Date.now() - lastInput;
      if (quiet < idleAfterMs) {
        arm(idleAfterMs - quiet);
        return;
      }
      timer = undefined;
      idle = true;
      update();
    }, delay);
  };
  const onInput = () => {
    lastInput = Date.now();
    if (idle) {
      idle = false;
      update();
    }
    if (timer === undefined) arm(idleAfterMs);
  };
  const onVisibility = () => {
    // Coming back to the tab is input; leaving it, the page is not engaged whatever the idle timer says.
    if (visible() && idleAfterMs > 0) onInput();
    update();
  };

  target.addEventListener('visibilitychange', onVisibility);
  if (idleAfterMs > 0) {
    for (const type of INPUT_EVENTS) target.addEventListener(type, onInput, { passive: true, capture: true });
    arm(idleAfterMs);
  }
  return {
    get engaged() {
      return engaged;
    },
    stop() {
      clearTimeout(timer);
      target.removeEventListener('visibilitychange', onVisibility);
      if (idleAfterMs > 0) for (const type of INPUT_EVENTS) target.removeEventListener(type, onInput, { capture: true });
    },
  };
}
