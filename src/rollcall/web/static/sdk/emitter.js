// What the SDK's objects share: they are EventTargets whose events carry their data in `detail`,
// with on() as a shorter way to listen, and a way to know whether anyone listens.

export class Emitter extends EventTarget {
  #listeners = new Map(); // type -> the listeners added for it

  /** Call `listener(detail, event)` on each `type` event; returns a function that stops it. */
  on(type, listener) {
    const handler = (event) => listener(event.detail, event);
    this.addEventListener(type, handler);
    return () => this.removeEventListener(type, handler);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  addEventListener(type, listener, options) {
    super.addEventListener(type, listener, options);
    if (listener) this.#of(type).add(listener);
  }

  removeEventListener(type, listener, options) {
    super.removeEventListener(type, listener, options);
    this.#listeners.get(type)?.delete(listener);
  }

  /** Whether something listens for `type` events: a page that does, shows them. */
  listens(type) {
    return (this.#listeners.get(type)?.size ?? 0) > 0;
  }

  #of(type) {
    if (!this.#listeners.has(type)) this.#listeners.set(type, new Set());
    return this.#listeners.get(type);
  }
}
