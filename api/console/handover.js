// Shift hand-over: the dispatcher going off shift leaves a note (with the open incidents);
// the next one sees it at the top of the console and acknowledges it. Both are logged events.

import { ask, toast } from "./dialog.js";
import { esc, humanError, timeOfDay } from "./format.js";
import { PATHS } from "./store.js";

export class HandoverPanel {
  constructor({ api, store, me, canOperate }) {
    this.api = api;
    this.store = store;
    this.me = me;
    this.canOperate = canOperate;
    this.section = document.getElementById("handover");
    this.list = this.section.querySelector("ul");
    this.notes = [];
    const button = document.getElementById("hand-over");
    button.hidden = !canOperate;
    button.addEventListener("click", () => this.handOver());
  }

  /** The hand-overs nobody has acknowledged yet. */
  async refresh() {
    try {
      this.notes = (await this.api.get(PATHS.handovers, { status: "open" })).handovers;
    } catch (err) {
      toast(`Hand-over notes: ${humanError(err)}`, { bad: true });
    }
    this.render();
  }

  render() {
    const mine = (h) => h.actor.endsWith(`:${this.me.name}`);
    this.section.hidden = this.notes.length === 0;
    this.list.innerHTML = this.notes.map((h) => `<li data-id="${esc(h.handover_id)}">
      <div><time>${esc(timeOfDay(h.at))}</time> <strong>${esc(h.actor)}</strong> handed over
        ${h.incidents.length ? `(open: ${esc(h.incidents.join(", "))})` : ""}</div>
      <p class="handover-note">${esc(h.note)}</p>
      ${mine(h)
        ? '<span class="muted">Your note: waiting for the next dispatcher to acknowledge it.</span>'
        : `<button type="button" data-ack="${esc(h.handover_id)}"${this.canOperate ? "" : " disabled"}>Acknowledge</button>`}
    </li>`).join("");
    for (const btn of this.list.querySelectorAll("button[data-ack]")) {
      btn.addEventListener("click", () => this.acknowledge(btn.dataset.ack));
    }
  }

  async acknowledge(id) {
    try {
      await this.api.post(PATHS.handoverAck(id), {});
      toast("Hand-over acknowledged");
    } catch (err) {
      toast(`Acknowledge failed: ${humanError(err)}`, { bad: true });
    }
    await this.refresh();
  }

  /** End of shift: a note for the next dispatcher, with the incidents still open. A refusal
   * keeps the dialog and what was typed. */
  async handOver() {
    if (!this.canOperate || document.body.dataset.offline) return;
    const open = this.store.queue();
    const values = await ask("Hand over the shift", [
      { name: "note", label: "Note for the next dispatcher (operational: no caller details)", type: "textarea",
        required: true, maxLength: 4000 },
      { name: "incidents", label: "Open incidents handed over", type: "checks",
        options: open.map((i) => ({ value: i.id, label: `${i.id} · P${i.priority} ${i.code}`, checked: true })) },
    ], {
      ok: "Hand over",
      onSubmit: (v) => this.api.post(PATHS.handovers, {
        handover_id: `HO-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
        note: v.note,
        incidents: v.incidents,
      }),
    });
    if (values) {
      toast("Handed over: the next dispatcher will see your note");
      await this.refresh();
    }
  }
}
