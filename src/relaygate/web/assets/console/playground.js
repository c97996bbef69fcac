// Relaygate console: the playground (/console/playground). Our own file, no library.
// The page's script calls the relay itself (/v1/chat/completions, streaming) with a
// playground key the console makes for this page (POST /console/playground/key); the key
// lives in this script's memory only. When a call ends, its tokens and exact charge come
// from its bill line (GET /console/playground/calls/<x-request-id>): what each resource
// package paid, then what the balance paid.
"use strict";
(() => {
  const form = document.getElementById("playground");
  if (!form) return;
  const log = document.getElementById("pg-log");
  const input = document.getElementById("pg-message");
  const send = document.getElementById("pg-send");
  const t = form.dataset;
  const lang = document.documentElement.lang || "en";
  const state = { key: null, history: [], busy: false };

  const field = (name) => form.elements.namedItem(name);

  function bubble(role, text, cls) {
    const empty = log.querySelector(".chat-empty");
    if (empty) empty.remove();
    const item = document.createElement("li");
    item.className = "msg msg-" + (cls || role);
    const who = document.createElement("p");
    who.className = "role";
    who.textContent = role === "user" ? t.tYou : role === "error" ? t.tError : t.tAssistant;
    const body = document.createElement("div");
    body.className = "text";
    body.textContent = text;
    item.append(who, body);
    log.append(item);
    item.scrollIntoView({ block: "nearest" });
    return item;
  }

  function showError(item, message) {
    item.className = "msg msg-error";
    item.querySelector(".role").textContent = t.tError;
    const text = item.querySelector(".text");
    text.textContent = message;
    text.setAttribute("role", "alert");
    item.dataset.state = "error";
  }

  async function errorText(response) {
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) return body.error.message;
      if (body && body.message) return body.message;
    } catch (_) { /* not JSON: fall through */ }
    return t.tFailed + " " + response.status + ".";
  }

  async function newKey() {
    const response = await fetch(t.keyUrl, {
      method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": t.csrf },
    });
    if (!response.ok) throw new Error(t.tFailed + " " + response.status + ".");
    state.key = (await response.json()).key;
  }

  function request() {
    const messages = [];
    const system = field("system").value.trim();
    if (system) messages.push({ role: "system", content: system });
    const body = {
      model: field("model").value, messages: messages.concat(state.history), stream: true,
      stream_options: { include_usage: true },
    };
    const temperature = field("temperature").value.trim();
    if (temperature !== "") body.temperature = Number(temperature);
    const maxTokens = field("max_tokens").value.trim();
    if (maxTokens !== "") body.max_tokens = Number(maxTokens);
    return body;
  }

  async function call(retried) {
    if (!state.key) await newKey();
    const response = await fetch("/v1/chat/completions", {
      method: "POST",
      headers: { "Authorization": "Bearer " + state.key, "Content-Type": "application/json" },
      body: JSON.stringify(request()),
    });
    if (response.status === 401 && !retried) { // the key expired or was replaced elsewhere
      state.key = null;
      return call(true);
    }
    return response;
  }

  // Reads the event stream, appending each piece of text as it arrives.
  async function stream(response, item) {
    const text = item.querySelector(".text");
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "", events = 0, done = false, failure = null;
    item.dataset.state = "streaming";
    while (!done) {
      const chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = frame.split("\n").filter((l) => l.startsWith("data:"))
          .map((l) => l.slice(5).trim()).join("\n");
        if (!data) continue;
        if (data === "[DONE]") { done = true; break; }
        let event;
        try { event = JSON.parse(data); } catch (_) { continue; }
        events += 1;
        item.dataset.events = String(events);
        if (event.error) { failure = event.error.message || t.tCut; continue; }
        const choice = event.choices && event.choices[0];
        const piece = choice && choice.delta && choice.delta.content;
        if (piece) text.textContent += piece;
      }
    }
    if (failure) return showError(item, failure);
    if (!done) return showError(item, t.tCut);
    item.dataset.state = "done";
    state.history.push({ role: "assistant", content: text.textContent });
  }

  const number = (value) => new Intl.NumberFormat(lang).format(value);

  function fact(list, label, value, name) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.className = "num";
    dd.dataset.field = name;
    dd.textContent = value;
    list.append(dt, dd);
  }

  // The bill is written when the call ends; a free call's may land a moment later.
  async function charge(requestId, item) {
    for (let attempt = 0; attempt < 8; attempt += 1) {
      const response = await fetch(t.callUrl + encodeURIComponent(requestId), {
        credentials: "same-origin", headers: { "X-CSRF-Token": t.csrf },
      });
      if (response.ok) {
        const line = await response.json();
        const facts = document.createElement("dl");
        facts.className = "call-facts";
        fact(facts, t.tPrompt, number(line.prompt_tokens), "prompt_tokens");
        fact(facts, t.tCompletion, number(line.completion_tokens), "completion_tokens");
        const packages = line.packages || [];
        for (const paid of packages) { // what a package paid costs the balance nothing
          fact(facts, t.tPackage.replace("{name}", paid.name), "\u2212" + paid.amount, "package");
        }
        fact(facts, packages.length ? t.tChargedBalance : t.tCharged, line.amount, "amount");
        const link = document.createElement("a");
        link.href = t.billsUrl;
        link.textContent = t.tBills;
        item.append(facts, link);
        item.dataset.charged = line.amount;
        return;
      }
      if (response.status !== 404) break;
      await new Promise((resolve) => setTimeout(resolve, 250 * (attempt + 1)));
    }
    const note = document.createElement("p");
    note.className = "muted small";
    note.textContent = t.tPending;
    item.append(note);
  }

  async function submit(event) {
    event.preventDefault();
    if (state.busy) return;
    const message = input.value.trim();
    if (!message) { input.focus(); input.placeholder = t.tEmpty; return; }
    state.busy = true;
    send.disabled = true;
    bubble("user", message);
    state.history.push({ role: "user", content: message });
    input.value = "";
    const item = bubble("assistant", "");
    try {
      const response = await call(false);
      const requestId = response.headers.get("x-request-id");
      if (requestId) item.dataset.requestId = requestId;
      if (!response.ok) {
        showError(item, await errorText(response));
        state.history.pop(); // the refused turn is not part of the conversation
      } else {
        await stream(response, item);
        if (item.dataset.state !== "done") state.history.pop();
        else if (requestId) await charge(requestId, item);
      }
    } catch (_) {
      showError(item, t.tNetwork);
      state.history.pop();
    } finally {
      state.busy = false;
      send.disabled = false;
      input.focus();
    }
  }

  form.addEventListener("submit", submit);
  document.getElementById("pg-hint").hidden = false; // the shortcut is the script's
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
  document.getElementById("pg-reset").addEventListener("click", (event) => {
    event.preventDefault();
    state.history = [];
    log.replaceChildren();
    input.focus();
  });
})();
