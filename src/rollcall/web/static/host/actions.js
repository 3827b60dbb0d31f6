// What the host does to the event: score, remove, lock, end, and the roll call to keep. Each is
// one call to the API; the dashboard shows the answer at once, and the host's stream confirms it.

import { api } from "../shared/api.js";
import { confirmDialog } from "../shared/dialog.js";
import { saveFile } from "../shared/dom.js";
import { shownScore } from "./roster.js";

export async function changeScore(session, id, delta) {
  const entry = session.roster.get(id);
  if (!entry) return;
  const next = shownScore(entry) + delta;
  entry.pendingScore = next;
  entry.inFlight = (entry.inFlight || 0) + 1;
  session.roster.touch(entry);
  session.render();
  try {
    const changed = await api(`${session.eventPath}/participants/${id}`, {
      method: "PATCH",
      body: { state: { score: next } },
      token: session.token,
    });
    if (changed.version >= entry.version) {
      Object.assign(entry, { state: changed.state, version: changed.version });
    }
  } catch (error) {
    session.toast.show(session.tr.t("error.score", { reason: session.reason(error) }));
  } finally {
    entry.inFlight -= 1;
    if (entry.inFlight === 0) delete entry.pendingScore;
    session.roster.touch(entry);
    session.render();
  }
}

export async function kickParticipant(session, id) {
  const entry = session.roster.get(id);
  if (!entry) return;
  const { tr } = session;
  const name = entry.display_name;
  // Remove (the phone may come back as the same person) or ban (it may not): host/admission.js.
  const ban = await session.admission.askRemoval(entry);
  if (ban === null) return;
  try {
    const kicked = await api(`${session.eventPath}/participants/${id}/kick`, {
      method: "POST",
      body: { ban },
      token: session.token,
    });
    session.roster.upsert(kicked);
    session.render();
    session.toast.show(session.admission.removedText(entry, ban));
  } catch (error) {
    session.toast.show(tr.t("error.kick", { name, reason: session.reason(error) }));
  }
}

async function setStatus(session, status) {
  try {
    session.setEvent(
      await api(session.eventPath, { method: "PATCH", body: { status }, token: session.token }),
    );
  } catch (error) {
    session.toast.show(session.tr.t("error.event", { reason: session.reason(error) }));
  }
}

export function toggleLock(session) {
  setStatus(session, session.event.status === "locked" ? "open" : "locked");
}

export async function endEvent(session) {
  const { tr } = session;
  const sure = await confirmDialog({
    title: tr.t("end.title"),
    text: tr.t("end.text"),
    confirm: tr.t("end.confirm"),
    cancel: tr.t("dialog.cancel"),
  });
  if (sure) setStatus(session, "closed");
}

/** The roll call as a CSV file: who was here, and for how long (also once the event ended). */
export async function downloadAttendance(session) {
  const { tr } = session;
  try {
    const csv = await api(`${session.eventPath}/attendance`, {
      token: session.token,
      accept: "text/csv",
    });
    saveFile(`attendance-${session.code}.csv`, csv);
    session.toast.show(tr.t("topbar.attendance_saved"));
  } catch (error) {
    session.toast.show(tr.t("error.attendance", { reason: session.reason(error) }));
  }
}
