// Gatehouse's passkey ceremonies: the only script of its pages, and only for what WebAuthn
// cannot do without one. The server renders the WebAuthn options into a form
// (`data-passkey="create"` or `"get"`, options in `data-options`); this calls the browser's
// WebAuthn API, puts the answer (JSON, binary fields in base64url) into the form's `credential`
// field and submits the form. Without this script (or without WebAuthn) the forms stay hidden
// and every other way to sign in works as before.
"use strict";

(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) {
    return;
  }

  function fromBase64url(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
  }

  function toBase64url(buffer) {
    let binary = "";
    for (const byte of new Uint8Array(buffer)) {
      binary += String.fromCharCode(byte);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map((c) => Object.assign({}, c, { id: fromBase64url(c.id) }));
  }

  async function create(options) {
    const publicKey = Object.assign({}, options.publicKey, {
      challenge: fromBase64url(options.publicKey.challenge),
      user: Object.assign({}, options.publicKey.user, {
        id: fromBase64url(options.publicKey.user.id),
      }),
      excludeCredentials: withIds(options.publicKey.excludeCredentials),
    });
    const credential = await navigator.credentials.create({ publicKey });
    const response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        attestationObject: toBase64url(response.attestationObject),
        clientDataJSON: toBase64url(response.clientDataJSON),
        transports: response.getTransports ? response.getTransports() : [],
      },
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  }

  async function get(options) {
    // A modal request: the server's `mediation` (conditional, for autofill) is not used here.
    const publicKey = Object.assign({}, options.publicKey, {
      challenge: fromBase64url(options.publicKey.challenge),
      allowCredentials: withIds(options.publicKey.allowCredentials),
    });
    const credential = await navigator.credentials.get({ publicKey });
    const response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        authenticatorData: toBase64url(response.authenticatorData),
        clientDataJSON: toBase64url(response.clientDataJSON),
        signature: toBase64url(response.signature),
        userHandle: response.userHandle ? toBase64url(response.userHandle) : null,
      },
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  }

  for (const form of document.querySelectorAll("form[data-passkey]")) {
    const problem = form.querySelector("[data-passkey-error]");
    form.hidden = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (problem) {
        problem.hidden = true;
      }
      try {
        const options = JSON.parse(form.dataset.options);
        const ceremony = form.dataset.passkey === "create" ? create : get;
        form.elements.credential.value = JSON.stringify(await ceremony(options));
        form.submit();
      } catch (error) {
        if (problem) {
          problem.textContent = "The passkey did not answer (" + error.name + "). Try again.";
          problem.hidden = false;
        }
      }
    });
  }
})();
