// The borrower's loan pages with a self-custody wallet: this browser signs, with the key wallet.js
// keeps in IndexedDB, the presentation an application sends and the borrower's signature of the
// agreement (and, on the investor's invitation page, the investor's signature of the investment
// agreement). The forms then post as they would without a key here: the node checks everything.
// No library, no build step; needs wallet.js (window.growrWallet) loaded first.
(function () {
  "use strict";

  var wallet = window.growrWallet;

  function jsonOf(id) {
    return JSON.parse(document.getElementById(id).textContent);
  }

  function hidden(form, name, value) {
    var input = form.querySelector("input[type=hidden][name='" + name + "']");
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      form.appendChild(input);
    }
    input.value = value;
  }

  async function keyOf(did) {
    var key = await wallet.loadKey(did);
    if (!key) {
      throw new Error("The key of your DID " + did + " is not in this browser. " +
        "Use the browser where you switched to self-custody.");
    }
    return key;
  }

  // --- applying: answer the application challenge with the chosen credentials ---------------

  function chosenCredentials(form, credentials) {
    var chosen = {};
    var inputs = form.querySelectorAll("input[type=radio][name^='credential_']:checked");
    for (var i = 0; i < inputs.length; i++) {
      var item = credentials[inputs[i].value];
      if (item) { chosen[item.type] = item; }
    }
    return chosen;
  }

  async function presentation(form, toPresent) {
    var challenge = await wallet.postJson(form, toPresent.challenge_url, {});
    if (!challenge.ok) {
      throw new Error(challenge.data.error || "The node gave no challenge.");
    }
    var asked = challenge.data.request || {};
    var chosen = chosenCredentials(form, toPresent.credentials);
    var request = {
      did: toPresent.did, nonce: challenge.data.nonce, domain: challenge.data.domain,
      ldp: [], sd_jwt: []
    };
    Object.keys(asked).forEach(function (type) {
      var item = chosen[type];
      if (!item) { return; }  // the node says which type is missing
      if (item.format === "sd-jwt") {
        // Exactly the claims the challenge asks of this type, nothing more.
        request.sd_jwt.push({ credential: item.document, disclose: asked[type] });
      } else {
        request.ldp.push(item.document);
      }
    });
    var key = await keyOf(toPresent.did);
    return wallet.buildEnvelope(request, key.privateKey);
  }

  function initApply(form) {
    var toPresent = jsonOf(form.dataset.request);
    var status = document.getElementById("apply-status");
    var busy = false;
    form.addEventListener("submit", async function (event) {
      var submitter = event.submitter;
      if (!submitter || submitter.value !== "apply" || form.dataset.signed === "true") { return; }
      event.preventDefault();
      if (busy) { return; }
      busy = true;
      submitter.disabled = true;
      try {
        wallet.say(status, "Signing your presentation in this browser…");
        var envelope = await presentation(form, toPresent);
        hidden(form, "presentation", JSON.stringify(envelope));
        hidden(form, "action", "apply");
        form.dataset.signed = "true";
        wallet.say(status, "Sending your application…");
        form.submit();
      } catch (err) {
        wallet.say(status, wallet.problem(err), true);
        submitter.disabled = false;
        busy = false;
      }
    });
  }

  // --- signing the agreement: the JWS agreement.py's sign_agreement makes ----------------------

  function initSign(form) {
    var toSign = jsonOf(form.dataset.request);
    var status = document.getElementById("sign-status");
    var button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", async function (event) {
      if (form.dataset.signed === "true") { return; }
      event.preventDefault();
      button.disabled = true;
      try {
        var key = await keyOf(toSign.did);
        wallet.say(status, "Signing in this browser…");
        // The header and payload in the order and spelling of the node's own signatures.
        var jws = await wallet.signCompact(
          { kid: toSign.kid, typ: toSign.typ, alg: "EdDSA" },
          { agreement: toSign.hash, role: toSign.role || "borrower" },
          key.privateKey);
        hidden(form, "signature", jws);
        form.dataset.signed = "true";
        wallet.say(status, "Sending your signature…");
        form.submit();
      } catch (err) {
        wallet.say(status, wallet.problem(err), true);
        button.disabled = false;
      }
    });
  }

  function init() {
    var forms = document.querySelectorAll("form[data-loan][data-custody=self]");
    for (var i = 0; i < forms.length; i++) {
      var form = forms[i];
      if (!wallet || wallet.webCryptoMissing()) {
        var note = document.createElement("p");
        note.className = "form-errors";
        note.textContent =
          "This browser has no WebCrypto or IndexedDB here, so it cannot hold your key.";
        form.prepend(note);
        continue;
      }
      if (form.dataset.loan === "apply" && form.dataset.request) { initApply(form); }
      if (form.dataset.loan === "sign") { initSign(form); }
      // The buttons stay disabled until their handlers are there (and without JavaScript).
      var waiting = form.querySelectorAll("[data-needs-script]");
      for (var j = 0; j < waiting.length; j++) { waiting[j].disabled = false; }
    }
  }

  init();
})();
