// Projector mode: the dashboard as the room sees it on the big screen, without the host's
// controls. The choice is kept on this device.

const KEY = "rollcall.projector";

export function projectorMode() {
  try {
    return localStorage.getItem(KEY) === "on";
  } catch {
    return false;
  }
}

/** Show the page in projector mode or not, without keeping the choice. */
export function showProjectorMode(on) {
  document.body.dataset.projector = String(on);
}

export function setProjectorMode(on) {
  showProjectorMode(on);
  try {
    localStorage.setItem(KEY, on ? "on" : "off");
  } catch {
    // Private mode: on for this page only.
  }
}
