// Relaygate console: progressive enhancement only; every page works without it.
// Copy buttons: <button data-copy="#id"> copies the text of the element it names.
"use strict";
document.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest("[data-copy]") : null;
  if (!button) return;
  const source = document.querySelector(button.getAttribute("data-copy"));
  if (!source || !navigator.clipboard) return;
  const text = "value" in source ? source.value : source.textContent;
  navigator.clipboard.writeText(text.trim()).then(() => {
    const label = button.textContent;
    button.textContent = button.getAttribute("data-copied") || "✓";
    setTimeout(() => { button.textContent = label; }, 1500);
  });
});

// Live filter (pages-dash): <input data-filter="#tbody" data-filter-count="#count"
// data-filter-none="#none"> hides the rows whose data-name does not contain the text; the
// form's ?q= does the same on the server without script.
document.addEventListener("input", (event) => {
  const box = event.target instanceof HTMLInputElement ? event.target : null;
  if (!box || !box.hasAttribute("data-filter")) return;
  const rows = document.querySelectorAll(box.getAttribute("data-filter") + " > tr");
  const term = box.value.trim().toLowerCase();
  let shown = 0;
  rows.forEach((row) => {
    const match = (row.getAttribute("data-name") || "").includes(term);
    row.hidden = !match;
    if (match) shown += 1;
  });
  const pick = (name) => (box.getAttribute(name) ? document.querySelector(box.getAttribute(name)) : null);
  const count = pick("data-filter-count");
  if (count) {
    const text = count.getAttribute("data-template") || "%(shown)s / %(total)s";
    count.textContent = text.replace("%(shown)s", String(shown)).replace("%(total)s", count.getAttribute("data-total") || "");
  }
  const none = pick("data-filter-none");
  if (none) none.hidden = shown > 0;
});
