// The start page: create an event, keep its host token in this browser, open its dashboard.

import { api } from "../shared/api.js";
import { el } from "../shared/dom.js";
import { hostedEvents, keepHostToken } from "../shared/hostkeys.js";

const CODE_PATTERN = /^[23456789ABCDEFGHJKMNPQRSTVWXYZ]{6}$/;

const form = document.getElementById("create");
const titleInput = document.getElementById("title");
const capacityInput = document.getElementById("capacity");
const adminField = document.getElementById("admin-field");
const adminInput = document.getElementById("admin-token");
const createError = document.getElementById("create-error");
const submit = form.querySelector("button[type=submit]");

function showError(node, text, input = null) {
  node.textContent = text;
  node.hidden = !text;
  for (const field of form.querySelectorAll("[aria-invalid]"))
    field.removeAttribute("aria-invalid");
  if (input) {
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-errormessage", node.id);
    input.focus();
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const title = titleInput.value.trim();
  if (!title) return showError(createError, "Give the event a name.", titleInput);
  const body = { title };
  if (capacityInput.value.trim()) {
    const capacity = Number(capacityInput.value);
    if (!Number.isInteger(capacity) || capacity < 1) {
      return showError(createError, "Seats must be a whole number, 1 or more.", capacityInput);
    }
    body.capacity = capacity;
  }
  showError(createError, "");
  submit.disabled = true;
  submit.textContent = "Creating…";
  try {
    const created = await api("/api/events", {
      method: "POST",
      body,
      token: adminInput.value.trim() || undefined,
    });
    keepHostToken(created.event.code, created.host_token, created.event.title);
    location.assign(`/host/${created.event.code}`);
  } catch (error) {
    submit.disabled = false;
    submit.textContent = "Create event";
    if (error.code === "invalid_token") {
      adminField.hidden = false;
      showError(
        createError,
        adminInput.value
          ? "That admin token is not right."
          : "This server needs its admin token to create events.",
        adminInput,
      );
    } else if (error.code === "validation_error") {
      const field = error.problem.errors?.[0]?.field;
      showError(createError, error.message, field === "capacity" ? capacityInput : titleInput);
    } else {
      showError(createError, error.message);
    }
  }
});

const codeForm = document.getElementById("join-code");
const codeInput = document.getElementById("code");
const codeError = document.getElementById("code-error");

codeForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const code = codeInput.value.trim().toUpperCase();
  if (!CODE_PATTERN.test(code)) {
    codeError.textContent = "A code is 6 letters and digits, as shown on the host's screen.";
    codeError.hidden = false;
    codeInput.setAttribute("aria-invalid", "true");
    codeInput.setAttribute("aria-errormessage", "code-error");
    codeInput.focus();
    return;
  }
  location.assign(`/j/${code}`);
});

const recent = hostedEvents();
if (recent.length) {
  document
    .getElementById("recent")
    .replaceChildren(
      ...recent.map((item) =>
        el(
          "li",
          {},
          el(
            "a",
            { href: `/host/${item.code}` },
            el("span", { class: "recent-title", text: item.title }),
            el("span", { class: "recent-code", text: item.code }),
          ),
        ),
      ),
    );
  document.getElementById("recent-panel").hidden = false;
}
