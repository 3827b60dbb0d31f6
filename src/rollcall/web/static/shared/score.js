// A score as both pages show it: a number that bumps when it changes.

/** The score in `state`, 0 when the host has not set one. */
export function scoreOf(state) {
  return typeof state?.score === "number" ? state.score : 0;
}

/** Show `value` in `node`; a change (not the first value) plays the bump animation again. */
export function showScore(node, value) {
  if (node.textContent === value) return;
  if (node.textContent) {
    node.classList.remove("bump");
    // Restart the animation: a style flush does it, without a layout of the whole page (a
    // dashboard may change many scores in one frame, between other changes to the page).
    void getComputedStyle(node).animationName;
    node.classList.add("bump");
  }
  node.textContent = value;
}
