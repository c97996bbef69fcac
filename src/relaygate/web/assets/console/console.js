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

// Live search: <form data-live-search="#results"> fetches its own GET page as the
// operator types and swaps in the results region; the URL follows (URLs are the state).
// Without script the form submits as usual.
(() => {
  let timer = null;
  let latest = 0;
  document.addEventListener("input", (event) => {
    const input = event.target;
    const form = input instanceof HTMLInputElement ? input.closest("form[data-live-search]") : null;
    if (!form) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      const target = document.querySelector(form.getAttribute("data-live-search"));
      if (!target) return;
      const url = new URL(form.action, location.href);
      url.search = new URLSearchParams(new FormData(form)).toString();
      const ticket = ++latest;
      fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" })
        .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
        .then((html) => {
          if (ticket !== latest) return; // an older answer arriving late
          const fresh = new DOMParser().parseFromString(html, "text/html").querySelector(form.getAttribute("data-live-search"));
          if (!fresh) return;
          target.replaceChildren(...fresh.childNodes);
          history.replaceState(null, "", url.pathname + url.search);
        })
        .catch(() => {}); // the submit button still works
    }, 250);
  });
})();
// Model pickers (keys page): <div data-model-picker> with a hidden [data-model-filter]
// search box shown here; typing hides the models whose name does not contain the text.
document.querySelectorAll("[data-model-picker]").forEach((picker) => {
  const filter = picker.querySelector("[data-model-filter]");
  if (!filter) return;
  filter.hidden = false;
  filter.addEventListener("input", () => {
    const wanted = filter.value.trim().toLowerCase();
    picker.querySelectorAll("li").forEach((item) => {
      item.hidden = wanted !== "" && !item.textContent.toLowerCase().includes(wanted);
    });
  });
});
// Ticking a model chooses "only the models ticked".
document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || box.name !== "models" || !box.checked || !box.form) return;
  const some = box.form.querySelector('input[name="scope"][value="some"]');
  if (some) some.checked = true;
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
