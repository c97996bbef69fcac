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
