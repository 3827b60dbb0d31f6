// What a page shows when a call fails in a way it has no screen of its own for: rollcall can't be
// reached for a moment (it tries again by itself, backing off), or something unexpected broke.

import { button } from "./dom.js";
import { backoffDelay } from "./live.js";
import { messageScreen } from "./screens.js";

/** When to try again after a transient failure: the server's Retry-After, else a backoff. */
export class RetryClock {
  #attempt = 0;
  #timer = null;

  schedule(error, retry) {
    const delay = error.retryAfterS ? error.retryAfterS * 1000 : backoffDelay(this.#attempt);
    this.#attempt += 1;
    this.#timer = setTimeout(retry, delay);
  }

  cancel() {
    clearTimeout(this.#timer);
  }

  /** A call went through: the next failure starts the backoff from the beginning. */
  reset() {
    this.#attempt = 0;
  }
}

const WORDS = {
  unreachable: "Can't reach rollcall",
  tryNow: "Try again now",
  broken: "Something went wrong",
  tryAgain: "Try again",
};

/**
 * The screen for `error`, an ApiError. Transient: "can't reach", with `retry` scheduled on
 * `clock`; anything else: "something went wrong". `wide` buttons fill the screen's width;
 * `words` are the screen's own words, for a page in another language.
 */
export function failureScreen(
  error,
  { retry, clock, unreachableLines, wide = false, words = WORDS },
) {
  const width = wide ? " btn-block" : "";
  if (error.transient) {
    clock.schedule(error, retry);
    return messageScreen({
      id: "unreachable",
      iconName: "wifiOff",
      tone: "warn",
      title: words.unreachable,
      lines: unreachableLines,
      actions: [button(words.tryNow, retry, `btn btn-secondary btn-lg${width}`)],
    });
  }
  return messageScreen({
    id: "error",
    iconName: "alert",
    tone: "danger",
    title: words.broken,
    lines: [error.message],
    actions: [button(words.tryAgain, retry, `btn btn-lg${width}`)],
  });
}
