// A small modal form ("prompt") built from field descriptions, and a status toast.

import { esc, humanError } from "./format.js";

/**
 * Ask for a few values; resolves to {name: value} or null when cancelled.
 * fields: [{name, label, type: "text" | "textarea" | "number" | "date" | "select" | "checks",
 *           options?: [{value, label, checked?}], value?, required?, minLength?, maxLength?}]
 * With ``onSubmit`` the dialog stays open until it succeeds: a refusal is shown in the dialog,
 * next to the field it names, and nothing typed is lost. ``ok`` names the OK button; ``focus:
 * "ok"`` starts on it (Enter confirms) instead of the first field.
 */
export function ask(title, fields, { onSubmit: save = null, ok = "OK", text = "", focus = "first" } = {}) {
  const dialog = document.getElementById("prompt");
  const form = document.getElementById("prompt-form");
  const error = document.getElementById("prompt-error");
  const okButton = form.querySelector("button[type=submit]");
  document.getElementById("prompt-title").textContent = title;
  document.getElementById("prompt-text").textContent = text;
  document.getElementById("prompt-fields").innerHTML = fields.map(fieldHtml).join("");
  okButton.textContent = ok;
  error.textContent = "";
  return new Promise((resolve) => {
    const done = (value) => {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    let busy = false;
    const onSubmit = async (e) => {
      e.preventDefault();
      if (busy || !form.reportValidity()) return;
      const values = {};
      for (const f of fields) {
        if (f.type === "checks") {
          values[f.name] = [...form.querySelectorAll(`input[name="${f.name}"]:checked`)].map((c) => c.value);
        } else {
          values[f.name] = form.elements[f.name].value.trim();
        }
      }
      if (!save) return done(values);
      busy = true;
      okButton.disabled = true;
      try {
        await save(values);
        done(values);
      } catch (err) {
        const labels = Object.fromEntries(fields.map((f) => [f.name, f.label]));
        error.textContent = humanError(err, labels);
        const bad = err.field && form.elements[err.field.split(".").pop()];
        if (bad?.focus) {
          bad.setAttribute("aria-invalid", "true");
          bad.focus();
        }
      } finally {
        busy = false;
        okButton.disabled = false;
      }
    };
    const onCancel = (e) => {
      e.preventDefault();
      done(null);
    };
    const cancel = document.getElementById("prompt-cancel");
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel);
    dialog.showModal();
    const first = focus === "ok" ? null : form.querySelector("input:not([type=checkbox]), textarea, select, input");
    (first ?? okButton).focus();
  });
}

function fieldHtml(f) {
  const id = `prompt-${f.name}`;
  const req = f.required ? " required" : "";
  const min = (f.minLength ? ` minlength="${f.minLength}"` : "") + (f.maxLength ? ` maxlength="${f.maxLength}"` : "");
  const value = esc(f.value ?? "");
  if (f.type === "textarea") {
    return `<label for="${id}">${esc(f.label)}</label>
      <textarea id="${id}" name="${esc(f.name)}" rows="3"${req}${min}>${value}</textarea>`;
  }
  if (f.type === "select") {
    const opts = f.options
      .map((o) => `<option value="${esc(o.value)}"${String(o.value) === String(f.value) ? " selected" : ""}>${esc(o.label)}</option>`)
      .join("");
    return `<label for="${id}">${esc(f.label)}</label><select id="${id}" name="${esc(f.name)}"${req}>${opts}</select>`;
  }
  if (f.type === "checks") {
    const boxes = f.options
      .map(
        (o, k) => `<label><input type="checkbox" name="${esc(f.name)}" value="${esc(o.value)}"
          id="${id}-${k}"${o.checked ? " checked" : ""}> ${esc(o.label)}</label>`,
      )
      .join("");
    return `<fieldset><legend>${esc(f.label)}</legend><div class="checks">${boxes || '<span class="muted">none</span>'}</div></fieldset>`;
  }
  const type = f.type === "number" || f.type === "date" ? f.type : "text";
  const range = (f.min !== undefined ? ` min="${esc(f.min)}"` : "") + (f.max !== undefined ? ` max="${esc(f.max)}"` : "");
  return `<label for="${id}">${esc(f.label)}</label>
    <input id="${id}" name="${esc(f.name)}" type="${type}" value="${value}"${req}${min}${range} autocomplete="off">`;
}

let toastTimer = 0;

/** A short message in the corner (announced to screen readers). */
export function toast(message, { bad = false } = {}) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.className = `toast show${bad ? " bad" : ""}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    el.className = "toast";
  }, bad ? 6000 : 3000);
}
