// Relaygate console, files page: a file dropped anywhere on the upload form fills its
// file input; the Upload button then sends the form as usual (the same multipart POST,
// CSRF field first). Without script the file input and the button do it all.
"use strict";
(() => {
  const form = document.querySelector("form[data-upload]");
  const input = form ? form.querySelector('input[type="file"]') : null;
  const zone = form ? form.querySelector("[data-drop-zone]") : null;
  if (!form || !input || !zone || typeof DataTransfer === "undefined") return;
  const hint = zone.querySelector("[data-drop-hint]");
  if (hint) hint.hidden = false;
  const name = form.querySelector('input[name="filename"]');
  let depth = 0;
  const carriesFiles = (event) => Array.from(event.dataTransfer ? event.dataTransfer.types : []).includes("Files");
  form.addEventListener("dragenter", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    depth += 1;
    zone.classList.add("dragging");
  });
  form.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  form.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) zone.classList.remove("dragging");
  });
  form.addEventListener("drop", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    depth = 0;
    zone.classList.remove("dragging");
    const dropped = event.dataTransfer.files;
    if (!dropped || dropped.length === 0) return;
    const one = new DataTransfer();
    one.items.add(dropped[0]); // one file per upload, as the API takes
    input.files = one.files;
    if (name && !name.value) name.placeholder = dropped[0].name;
    input.focus();
  });
})();
