// Keygate's passkeys: the WebAuthn ceremonies of the hosted pages
// (docs/account.md, "Passkeys"). The element #kg-passkey says what this
// page does (data-mode: sign-in, second-factor or register) and where
// (data-start, data-finish); it stays hidden where WebAuthn is missing.
// The options come from the server as JSON with base64url bytes; the
// answer goes back the same way, with the page's CSRF token.
(function () {
  "use strict";
  var box = document.getElementById("kg-passkey");
  if (!box || !window.PublicKeyCredential || !navigator.credentials) {
    return;
  }
  var d = box.dataset;
  var button = box.querySelector("button");
  var error = box.querySelector("[data-passkey-error]");
  var nameInput = box.querySelector("[data-passkey-name]");
  box.hidden = false;

  function b64u(buffer) {
    var bytes = new Uint8Array(buffer);
    var s = "";
    for (var i = 0; i < bytes.length; i++) {
      s += String.fromCharCode(bytes[i]);
    }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function bytes(text) {
    var s = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    var out = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) {
      out[i] = s.charCodeAt(i);
    }
    return out.buffer;
  }

  function say(message) {
    error.textContent = message;
    error.hidden = !message;
  }

  function post(url, body) {
    body.csrf = d.csrf;
    if (d.request) {
      body.request = d.request;
    }
    if (d.mfaToken) {
      body.mfa_token = d.mfaToken;
    }
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () {
        return {};
      }).then(function (json) {
        if (!res.ok) {
          throw new Error(json.error_description || "Something went wrong. Please try again.");
        }
        return json;
      });
    });
  }

  function ids(list) {
    (list || []).forEach(function (c) {
      c.id = bytes(c.id);
    });
  }

  function assertion(c) {
    var r = c.response;
    return {
      id: c.id,
      rawId: b64u(c.rawId),
      type: c.type,
      response: {
        authenticatorData: b64u(r.authenticatorData),
        clientDataJSON: b64u(r.clientDataJSON),
        signature: b64u(r.signature),
        userHandle: r.userHandle ? b64u(r.userHandle) : null
      },
      extensions: c.getClientExtensionResults()
    };
  }

  function attestation(c) {
    var r = c.response;
    return {
      id: c.id,
      rawId: b64u(c.rawId),
      type: c.type,
      response: {
        attestationObject: b64u(r.attestationObject),
        clientDataJSON: b64u(r.clientDataJSON),
        transports: r.getTransports ? r.getTransports() : undefined
      },
      extensions: c.getClientExtensionResults()
    };
  }

  // Onwards: a redirect, or (form_post response mode) a form posting
  // the answer to the application, which the page's form-action allows.
  function go(json) {
    if (json.form_post) {
      var form = document.createElement("form");
      form.method = "post";
      form.action = json.form_post.action;
      json.form_post.fields.forEach(function (f) {
        var input = document.createElement("input");
        input.type = "hidden";
        input.name = f[0];
        input.value = f[1];
        form.appendChild(input);
      });
      document.body.appendChild(form);
      form.submit();
      return;
    }
    window.location.assign(json.redirect);
  }

  // A sign-in, or the second factor: navigator.credentials.get.
  function authenticate(signal, conditional) {
    return post(d.start, {}).then(function (started) {
      var pk = started.options.publicKey;
      pk.challenge = bytes(pk.challenge);
      ids(pk.allowCredentials);
      var options = { publicKey: pk, signal: signal };
      if (conditional) {
        options.mediation = "conditional";
      }
      return navigator.credentials.get(options).then(function (c) {
        return post(d.finish, { handle: started.handle, credential: assertion(c) });
      });
    }).then(go);
  }

  // Adding a passkey: navigator.credentials.create.
  function register() {
    return post(d.start, {}).then(function (started) {
      var pk = started.options.publicKey;
      pk.challenge = bytes(pk.challenge);
      pk.user.id = bytes(pk.user.id);
      ids(pk.excludeCredentials);
      return navigator.credentials.create({ publicKey: pk }).then(function (c) {
        return post(d.finish, {
          handle: started.handle,
          name: nameInput ? nameInput.value : "",
          credential: attestation(c)
        });
      });
    }).then(go);
  }

  function failed(e) {
    if (e && e.name === "NotAllowedError") {
      say("The passkey request was cancelled or timed out.");
    } else if (e && e.name === "InvalidStateError") {
      say("This passkey is already registered.");
    } else if (!(e && e.name === "AbortError")) {
      say((e && e.message) || "Something went wrong. Please try again.");
    }
  }

  // The browser's autofill offers passkeys in the e-mail field
  // (conditional mediation), until the button asks outright.
  var autofill = null;
  if (d.mode === "sign-in" && PublicKeyCredential.isConditionalMediationAvailable) {
    PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
      if (available) {
        var control = new AbortController();
        autofill = {
          control: control,
          done: authenticate(control.signal, true).catch(failed)
        };
      }
    });
  }

  button.addEventListener("click", function () {
    say("");
    button.disabled = true;
    var ready = Promise.resolve();
    if (autofill) {
      autofill.control.abort();
      ready = autofill.done;
      autofill = null;
    }
    ready.then(function () {
      return d.mode === "register" ? register() : authenticate(undefined, false);
    }).catch(failed).then(function () {
      button.disabled = false;
    });
  });
})();
