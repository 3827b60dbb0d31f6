// Who may come in, on the dashboard: the room check (its 4 digits shown large, and the QR code
// and link that carry it, redrawn at each rotation), the waiting room (who waits, with admit,
// deny and "admit all"; seat moves to approve), remove or ban, unban, and removing everyone
// who joined in the last minutes (a flood that got in). Its text has its own catalog,
// /static/i18n/host-admission/, so the rest of the dashboard is left as it is.

import { api } from "../shared/api.js";
import { choiceDialog, confirmDialog } from "../shared/dialog.js";
import { el } from "../shared/dom.js";
import { loadMessages } from "../shared/i18n.js";
import { breakableUrl } from "./dashboard.js";

export class Admission {
  /** `session` is the dashboard's HostSession: its token, event, roster, toast and render(). */
  constructor(session) {
    this.session = session;
    this.t = (key) => key;
    this.ready = loadMessages("host-admission").then(
      (translator) => {
        this.t = (key, params) => translator.t(key, params);
        this.session.render();
      },
      () => {}, // no catalog: the keys show, the dashboard still works
    );
    this.roomCheck = null; // {code, expires_at} while the event has a room check
    this.asking = false; // a room check request is on its way
    this.dashboard = null;
    this.busy = new Set(); // ids with an admit or deny on its way
  }

  // --- the room check

  /** The host's stream says the code changed (or was turned on). */
  onRoomCheck(message) {
    this.roomCheck = { code: message.code, expires_at: message.expires_at };
    this.session.render();
  }

  async fetchRoomCheck() {
    if (this.asking) return;
    this.asking = true;
    try {
      const now = await api(`${this.session.eventPath}/room-check`, { token: this.session.token });
      if (!this.roomCheck || this.roomCheck.code !== now.code) {
        this.roomCheck = { code: now.code, expires_at: now.expires_at };
        this.session.render();
      }
    } catch {
      // The stream sends the code after its welcome anyway.
    } finally {
      this.asking = false;
    }
  }

  // --- drawing

  /** Called with the dashboard each time it renders. */
  render(dashboard, event, roster) {
    if (dashboard !== this.dashboard) this.attach(dashboard);
    this.renderRoomCheck(event);
    this.renderWaiting(event, roster);
    this.renderUnban(dashboard, event, roster);
    this.recent.hidden = event.status === "closed";
    this.recentSummary.textContent = this.t("recent.open");
    this.recentLabel.textContent = this.t("recent.label");
    this.recentButton.textContent = this.t("recent.button");
  }

  attach(dashboard) {
    this.dashboard = dashboard;
    const panel = dashboard.joinPanel;
    this.qr = panel.querySelector(".qr");
    this.link = panel.querySelector('[data-testid="join-url"]');
    this.plain = { src: this.qr.getAttribute("src"), url: this.session.joinUrl };
    this.checkLabel = el("p", { class: "code-label", id: "room-check-label" });
    this.checkCode = el("p", {
      class: "event-code room-check-code",
      "aria-labelledby": "room-check-label",
      "data-testid": "room-check",
    });
    this.checkHint = el("p", { class: "room-check-hint" });
    this.checkBox = el("div", { class: "room-check" }, this.checkLabel, this.checkCode);
    this.checkBox.append(this.checkHint);
    panel.append(this.checkBox);

    this.waitingTitle = el("h2", { id: "waiting-heading" });
    this.admitAll = el("button", {
      class: "btn btn-small",
      type: "button",
      "data-testid": "admit-all",
      onclick: () => this.admit({ all: true }),
    });
    this.waitingList = el("ul", { class: "waiting-list", "data-testid": "waiting" });
    this.waitingPanel = el(
      "section",
      { class: "card waiting-room", "aria-labelledby": "waiting-heading" },
      el("div", { class: "roster-head" }, this.waitingTitle, this.admitAll),
      this.waitingList,
    );
    dashboard.area.prepend(this.waitingPanel);
    this.recent = this.recentPanel();
    dashboard.area.append(this.recent);
  }

  renderRoomCheck(event) {
    const on = Boolean(event.room_check) && event.status !== "closed";
    if (on && !this.roomCheck) this.fetchRoomCheck();
    if (!on) this.roomCheck = null;
    const check = on ? this.roomCheck : null;
    const url = check ? `${this.plain.url}?rc=${check.code}` : this.plain.url;
    const src = check ? `${this.plain.src}?rc=${check.code}` : this.plain.src;
    if (this.qr.getAttribute("src") !== src) {
      this.qr.setAttribute("src", src);
      this.link.replaceChildren(...breakableUrl(url.replace(/^https?:\/\//, "")));
    }
    this.qr.setAttribute("alt", this.t("qr.alt", { url }));
    this.link.dataset.url = url;
    this.checkBox.hidden = !check;
    this.checkLabel.textContent = this.t("roomCheck.label");
    this.checkHint.textContent = this.t("roomCheck.hint");
    this.checkCode.textContent = check ? check.code : "";
  }

  renderWaiting(event, roster) {
    const waiting = roster.waiting();
    const closed = event.status === "closed";
    this.waitingPanel.hidden = closed || waiting.length === 0;
    this.waitingTitle.textContent = this.t("waiting.heading", { count: waiting.length });
    const newcomers = waiting.filter((entry) => !entry.reclaims).length;
    this.admitAll.hidden = newcomers === 0;
    this.admitAll.textContent = this.t("waiting.admitAll");
    this.waitingList.replaceChildren(...waiting.map((entry) => this.waitingItem(entry, roster)));
  }

  waitingItem(entry, roster) {
    const name = entry.display_name;
    const moving = Boolean(entry.reclaims);
    const text = moving
      ? this.t("waiting.reclaim", { name: roster.get(entry.reclaims)?.display_name ?? name })
      : name;
    const busy = this.busy.has(entry.id);
    return el(
      "li",
      { class: "waiting-item", "data-participant-id": entry.id },
      el("span", { class: "waiting-name", text }),
      el("button", {
        class: "btn btn-small",
        type: "button",
        disabled: busy,
        text: this.t(moving ? "waiting.approve" : "waiting.admit"),
        "aria-label": this.t(moving ? "waiting.approveName" : "waiting.admitName", { name }),
        onclick: () => this.decide(entry, "admit"),
      }),
      el("button", {
        class: "btn btn-quiet-danger btn-small",
        type: "button",
        disabled: busy,
        text: this.t("waiting.deny"),
        "aria-label": this.t("waiting.denyName", { name }),
        onclick: () => this.decide(entry, "deny"),
      }),
    );
  }

  // --- remove or ban, unban, remove recent joins

  /** Ask how to remove `entry`: resolves true (ban), false (remove only) or null (cancel). */
  async askRemoval(entry) {
    const name = entry.display_name;
    const choice = await choiceDialog({
      title: this.t("remove.title", { name }),
      text: this.t("remove.text", { name }),
      cancel: this.t("cancel"),
      choices: [
        { value: "remove", text: this.t("remove.remove") },
        { value: "ban", text: this.t("remove.ban"), danger: true },
      ],
    });
    return choice === null ? null : choice === "ban";
  }

  removedText(entry, ban) {
    return this.t(ban ? "remove.banned" : "remove.removed", { name: entry.display_name });
  }

  /** An "Unban" button on each removed person's card (cards are host/card.js's; this adds one). */
  renderUnban(dashboard, event, roster) {
    for (const [id, card] of dashboard.view?.cards ?? []) {
      const entry = roster.get(id);
      let unban = card.node.querySelector(".unban");
      if (!unban) {
        unban = el("button", {
          class: "btn btn-small btn-secondary unban",
          type: "button",
          onclick: () => this.unban(id),
        });
        card.node.append(unban);
      }
      unban.hidden = event.status === "closed" || entry?.status !== "kicked";
      unban.textContent = this.t("unban");
      unban.setAttribute("aria-label", this.t("unbanName", { name: entry?.display_name ?? "" }));
    }
  }

  async unban(id) {
    const entry = this.session.roster.get(id);
    try {
      const participant = await api(`${this.session.eventPath}/participants/${id}/unban`, {
        method: "POST",
        token: this.session.token,
      });
      this.session.roster.upsert(participant);
      this.session.render();
      this.session.toast.show(this.t("unbanned", { name: entry?.display_name ?? "" }));
    } catch (error) {
      this.session.toast.show(this.t("error", { message: error.message }));
    }
  }

  recentPanel() {
    this.recentMinutes = el("input", {
      class: "input recent-minutes",
      id: "recent-minutes",
      type: "number",
      min: "1",
      max: "1440",
      value: "5",
      inputmode: "numeric",
    });
    this.recentLabel = el("label", { for: "recent-minutes" });
    this.recentButton = el("button", { class: "btn btn-small btn-quiet-danger", type: "submit" });
    this.recentSummary = el("summary");
    const form = el(
      "form",
      { class: "recent-form" },
      this.recentLabel,
      this.recentMinutes,
      this.recentButton,
    );
    form.addEventListener("submit", (submitEvent) => {
      submitEvent.preventDefault();
      this.removeRecent();
    });
    return el("details", { class: "card remove-recent" }, this.recentSummary, form);
  }

  async removeRecent() {
    const minutes = Math.round(Number(this.recentMinutes.value));
    if (!(minutes >= 1 && minutes <= 1440)) return this.recentMinutes.focus();
    const sure = await confirmDialog({
      title: this.t("recent.confirmTitle", { count: minutes }),
      text: this.t("recent.confirmText"),
      confirm: this.t("recent.confirm"),
      cancel: this.t("cancel"),
    });
    if (!sure) return;
    try {
      const { removed } = await api(`${this.session.eventPath}/kick`, {
        method: "POST",
        body: { joined_within_s: minutes * 60, ban: true },
        token: this.session.token,
      });
      this.session.toast.show(this.t("recent.done", { count: removed }));
    } catch (error) {
      this.session.toast.show(this.t("error", { message: error.message }));
    }
  }

  // --- the host's decisions

  async decide(entry, verb) {
    this.busy.add(entry.id);
    this.session.render();
    try {
      const participant = await api(`${this.session.eventPath}/participants/${entry.id}/${verb}`, {
        method: "POST",
        token: this.session.token,
      });
      // The stream confirms; an admitted newcomer is the same id, a denied one is kicked.
      if (participant.id === entry.id) this.session.roster.upsert(participant);
    } catch (error) {
      this.session.toast.show(this.t("error", { message: error.message }));
    } finally {
      this.busy.delete(entry.id);
      this.session.render();
    }
  }

  async admit(body) {
    this.admitAll.disabled = true;
    try {
      await api(`${this.session.eventPath}/admit`, {
        method: "POST",
        body,
        token: this.session.token,
      });
    } catch (error) {
      this.session.toast.show(this.t("error", { message: error.message }));
    } finally {
      this.admitAll.disabled = false;
    }
  }
}
