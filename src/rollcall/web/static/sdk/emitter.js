// What the SDK's objects share: they are EventTargets whose events carry their data in `detail`,
// with on() as a shorter way to listen.

export class Emitter extends EventTarget {
  /** Call `listener(detail, event)` on each `type` event; returns a function that stops it. */
  on(type, listener) {
    const handler = (event) => listener(event.detail, event);
    this.addEventListener(type, handler);
    return () => this.removeEventListener(type, handler);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
