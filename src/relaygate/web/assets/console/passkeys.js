// Relaygate console: passkeys (WebAuthn). Progressive enhancement: without script or
// without WebAuthn the buttons stay hidden and the email link works as before.
// Account page: [data-passkeys] adds one (options from /api/v1/user/passkeys/options,
// navigator.credentials.create, then POST /api/v1/user/passkeys with the CSRF header).
// Login page: [data-passkey-signin] signs in (/api/v1/auth/passkey/options,
// navigator.credentials.get, then POST /console/login/passkey, which opens the session).
"use strict";
(() => {
  const supported = window.isSecureContext && window.PublicKeyCredential && navigator.credentials;

  const toBuffer = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)).buffer;
  };
  const toText = (buffer) => {
    let binary = "";
    new Uint8Array(buffer).forEach((b) => { binary += String.fromCharCode(b); });
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };
  const withIds = (list) => (list || []).map((c) => ({ ...c, id: toBuffer(c.id) }));

  // PublicKeyCredential.toJSON() where the browser lacks it
  const asJSON = (credential) => {
    const r = credential.response;
    const response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      if (r.userHandle) response.userHandle = toText(r.userHandle);
    }
    return { id: credential.id, rawId: toText(credential.rawId), type: credential.type, response };
  };

  const post = async (url, body, headers = {}) => {
    const answer = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body || {}),
    });
    if (!answer.ok) throw new Error(`${url}: ${answer.status}`);
    return answer.json();
  };

  const fail = (root, error) => {
    const status = root.querySelector("[data-passkey-status]");
    if (status) status.textContent = root.getAttribute("data-failed") || String(error);
  };

  const account = document.querySelector("[data-passkeys]");
  if (account && supported) {
    const form = account.querySelector("[data-passkey-add]");
    const note = account.querySelector("[data-passkey-unsupported]");
    if (note) note.hidden = true;
    form.hidden = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const csrf = { "x-csrf-token": account.getAttribute("data-csrf") };
      try {
        const options = (await post("/api/v1/user/passkeys/options", {}, csrf)).data;
        const credential = await navigator.credentials.create({
          publicKey: {
            ...options,
            challenge: toBuffer(options.challenge),
            user: { ...options.user, id: toBuffer(options.user.id) },
            excludeCredentials: withIds(options.excludeCredentials),
          },
        });
        const name = form.querySelector("input[name=name]").value;
        await post("/api/v1/user/passkeys", { credential: asJSON(credential), name }, csrf);
        window.location.assign("/console/account?done=passkey-added#passkeys");
      } catch (error) {
        fail(account, error);
      }
    });
  }

  const signin = document.querySelector("[data-passkey-signin]");
  if (signin && supported) {
    signin.hidden = false;
    signin.querySelector("button").addEventListener("click", async () => {
      try {
        const options = (await post("/api/v1/auth/passkey/options")).data;
        const credential = await navigator.credentials.get({
          publicKey: {
            ...options,
            challenge: toBuffer(options.challenge),
            allowCredentials: withIds(options.allowCredentials),
          },
        });
        const next = document.querySelector("input[name=next]");
        const done = await post("/console/login/passkey", {
          credential: asJSON(credential),
          next: next ? next.value : "",
        });
        window.location.assign(done.location);
      } catch (error) {
        fail(signin, error);
      }
    });
  }
})();
