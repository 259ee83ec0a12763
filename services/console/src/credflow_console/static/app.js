// credflow console: the little the pages need beyond HTML and htmx — drag and drop of files,
// the credential type's media rules, confirmations, and keyboard shortcuts. No inline script
// anywhere (the content security policy forbids it).
"use strict";

function typing(target) {
  return target.closest("input, textarea, select, [contenteditable]") !== null;
}

function setupDrop() {
  const zone = document.getElementById("drop");
  const input = document.getElementById("f-files");
  const list = document.getElementById("chosen");
  if (!zone || !input) return;
  const show = () => {
    list.replaceChildren(...Array.from(input.files).map((f) => {
      const item = document.createElement("li");
      item.textContent = `${f.name} (${Math.max(1, Math.round(f.size / 1024))} KB)`;
      return item;
    }));
  };
  input.addEventListener("change", show);
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    const merged = new DataTransfer();
    for (const f of input.files) merged.items.add(f);
    for (const f of e.dataTransfer.files) merged.items.add(f);
    input.files = merged.files;
    show();
  });
}

function setupTypeRules() {
  const form = document.getElementById("credential-form");
  const select = document.getElementById("f-credential_type_id");
  const out = document.getElementById("type-rules");
  if (!form || !select || !out) return;
  const rules = JSON.parse(form.dataset.rules || "{}");
  const explain = () => {
    const rule = rules[select.value];
    const option = select.selectedOptions[0];
    if (!rule) { out.textContent = ""; return; }
    const parts = [];
    if (rule.required) parts.push("A file is required.");
    parts.push(`Accepted: ${rule.kinds.map((k) => k.toUpperCase()).join(", ")}, up to ${rule.max_mb} MB each.`);
    if (option.dataset.expires === "no") parts.push("This type does not expire.");
    else if (option.dataset.validity) parts.push(`Left empty, the expiry date is ${option.dataset.validity} months after the issue date.`);
    out.textContent = parts.join(" ");
    const files = document.getElementById("f-files");
    if (files && rule.accept) files.accept = rule.accept;
  };
  select.addEventListener("change", explain);
  explain();
}

function setupConfirm() {
  document.addEventListener("submit", (e) => {
    const form = e.target;
    if (form.classList.contains("confirm") && !window.confirm(form.dataset.confirm)) e.preventDefault();
  });
}

function queueRows() { return Array.from(document.querySelectorAll("tr[data-row]")); }

function moveInQueue(step) {
  const rows = queueRows();
  if (!rows.length) return false;
  const current = rows.findIndex((r) => r.classList.contains("current"));
  const next = Math.min(rows.length - 1, Math.max(0, current + step));
  rows.forEach((r) => r.classList.remove("current"));
  rows[next].classList.add("current");
  rows[next].querySelector("a").focus();
  return true;
}

function setupShortcuts() {
  const help = document.getElementById("shortcut-help");
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    const key = e.key;
    if (key === "?" && help) { e.preventDefault(); help.showModal(); return; }
    if ((key === "j" || key === "k") && queueRows().length) { e.preventDefault(); moveInQueue(key === "j" ? 1 : -1); return; }
    if (key === "x") {
      const row = document.querySelector("tr[data-row].current");
      if (row) { e.preventDefault(); const box = row.querySelector("input[type=checkbox]"); box.checked = !box.checked; }
      return;
    }
    if (key === "r") {
      const comment = document.getElementById("r-comment");
      if (comment) { e.preventDefault(); comment.focus(); return; }
    }
    const target = document.querySelector(`[data-shortcut="${CSS.escape(key)}"]`);
    if (target) { e.preventDefault(); target.click(); }
  });
  // "r" then Enter in the comment rejects: Ctrl+Enter sends the rejection from the comment box.
  const comment = document.getElementById("r-comment");
  if (comment) comment.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); document.getElementById("reject").click(); }
  });
}

function setupQueueRefresh() {
  // The queue refreshes itself (htmx, every few seconds) unless the reviewer is selecting rows.
  document.body.addEventListener("htmx:beforeRequest", (e) => {
    const rows = document.getElementById("queue-rows");
    if (rows && e.target === rows && (rows.querySelector("input:checked") || document.querySelector("tr.current"))) e.preventDefault();
  });
}

function openDialogs() {
  // A dialog that asks at once (the upload's approval) opens by itself, here and after htmx
  // swaps the progress in.
  document.querySelectorAll("dialog.auto-open:not([open])").forEach((d) => d.showModal());
}

document.addEventListener("DOMContentLoaded", () => {
  setupDrop(); setupTypeRules(); setupConfirm(); setupShortcuts(); setupQueueRefresh();
  openDialogs();
  document.body.addEventListener("htmx:afterSettle", openDialogs);
});
