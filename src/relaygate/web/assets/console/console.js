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

// Row forms saved in place (operator's models page): <form data-inline-save> posts with
// fetch asking for JSON, then says "Saved" or shows the row's errors in its
// [data-row-status]. Without script the form posts and the page comes back (303).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-inline-save")) return;
  const row = form.closest("tr");
  const status = row ? row.querySelector("[data-row-status]") : null;
  if (!row || !status || !window.fetch) return;
  event.preventDefault();
  const body = new URLSearchParams(new FormData(form));
  fetch(form.action, { method: "POST", body, credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((response) => response.json().then((data) => ({ ok: response.ok, data })))
    .then(({ ok, data }) => {
      row.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
      status.classList.toggle("saved", ok);
      if (ok) {
        status.textContent = form.getAttribute("data-saved") || "✓";
        return;
      }
      status.textContent = Object.entries(data.errors || {}).map(([name, message]) => {
        const input = row.querySelector(`[name="${name}"]`);
        if (input) input.setAttribute("aria-invalid", "true");
        const label = input ? (input.getAttribute("aria-label") || name).split(":")[0] : name;
        return `${label}: ${message}`;
      }).join(" ");
    })
    .catch(() => form.submit());
});
