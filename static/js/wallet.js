// The borrower's self-custody wallet, in the browser: an Ed25519 key made (non-extractable) or
// imported with WebCrypto, kept in IndexedDB under its did:key, which proves control of the DID
// to the node and signs presentations: a JWT VP for W3C credentials and, for each SD-JWT, only
// the chosen disclosures with a key-binding JWT. No library, no build step.
(function () {
  "use strict";

  var B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  var ED25519_MULTICODEC = [0xed, 0x01];
  var CREDENTIALS_V1_CONTEXT = "https://www.w3.org/2018/credentials/v1";
  var DB_NAME = "growr-wallet";
  var STORE = "keys";
  var encoder = new TextEncoder();
  var decoder = new TextDecoder();

  // --- encodings -----------------------------------------------------------------------------

  function b64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function b64urlDecode(text) {
    if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) {
      throw new Error("not base64url");
    }
    var padded = text.replace(/-/g, "+").replace(/_/g, "/");
    while (padded.length % 4) { padded += "="; }
    var binary = atob(padded);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes;
  }

  function b58encode(bytes) {
    var digits = [0];
    for (var i = 0; i < bytes.length; i++) {
      var carry = bytes[i];
      for (var j = 0; j < digits.length; j++) {
        carry += digits[j] * 256;
        digits[j] = carry % 58;
        carry = Math.floor(carry / 58);
      }
      while (carry > 0) { digits.push(carry % 58); carry = Math.floor(carry / 58); }
    }
    var out = "";
    for (var k = 0; k < bytes.length && bytes[k] === 0; k++) { out += "1"; }
    if (digits.length === 1 && digits[0] === 0) { return out; }  // all zero bytes
    for (var m = digits.length - 1; m >= 0; m--) { out += B58_ALPHABET[digits[m]]; }
    return out;
  }

  // --- did:key and JWS -----------------------------------------------------------------------

  function didFromPublicKey(raw) {
    if (raw.length !== 32) { throw new Error("an Ed25519 public key is 32 bytes"); }
    var prefixed = new Uint8Array(34);
    prefixed.set(ED25519_MULTICODEC, 0);
    prefixed.set(raw, 2);
    return "did:key:z" + b58encode(prefixed);
  }

  function verificationMethod(did) {
    return did + "#" + did.slice("did:key:".length);
  }

  function jsonSegment(value) {
    return b64url(encoder.encode(JSON.stringify(value)));
  }

  // A compact JWS of exactly HEADER (its keys in their order) and PAYLOAD.
  async function signCompact(header, payload, privateKey) {
    var signingInput = jsonSegment(header) + "." + jsonSegment(payload);
    var signature = await crypto.subtle.sign(
      { name: "Ed25519" }, privateKey, encoder.encode(signingInput));
    return signingInput + "." + b64url(signature);
  }

  function signJws(header, payload, privateKey) {
    return signCompact(Object.assign({ alg: "EdDSA" }, header), payload, privateKey);
  }

  async function sha256(text) {
    return b64url(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
  }

  // --- keys ----------------------------------------------------------------------------------

  async function generateKey() {
    // Non-extractable: the private key can sign in this browser, never be read out of it.
    var pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    var raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    return {
      did: didFromPublicKey(raw), privateKey: pair.privateKey, publicKey: pair.publicKey,
      origin: "generated", savedAt: new Date().toISOString()
    };
  }

  async function importJwk(text) {
    var jwk;
    try { jwk = JSON.parse(text); } catch (err) { throw new Error("The key is not JSON."); }
    if (!jwk || jwk.kty !== "OKP" || jwk.crv !== "Ed25519" ||
        typeof jwk.d !== "string" || typeof jwk.x !== "string") {
      throw new Error(
        "The key must be an Ed25519 private JWK (kty OKP, crv Ed25519, with d and x).");
    }
    var privateKey, publicKey;
    try {
      privateKey = await crypto.subtle.importKey(
        "jwk", { kty: "OKP", crv: "Ed25519", x: jwk.x, d: jwk.d }, { name: "Ed25519" }, false,
        ["sign"]);
      publicKey = await crypto.subtle.importKey(
        "jwk", { kty: "OKP", crv: "Ed25519", x: jwk.x }, { name: "Ed25519" }, true, ["verify"]);
    } catch (err) {
      throw new Error("This browser cannot read the key: " + err.message);
    }
    // The DID comes from x: make sure d is its private key before anything is signed with it.
    var probe = encoder.encode("growr key check");
    var signature = await crypto.subtle.sign({ name: "Ed25519" }, privateKey, probe);
    if (!await crypto.subtle.verify({ name: "Ed25519" }, publicKey, signature, probe)) {
      throw new Error("The key's public part x does not match its private part d.");
    }
    return {
      did: didFromPublicKey(b64urlDecode(jwk.x)), privateKey: privateKey, publicKey: publicKey,
      origin: "imported", savedAt: new Date().toISOString()
    };
  }

  // --- IndexedDB: one record per DID, holding the CryptoKey objects themselves ---------------

  function openDb() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore(STORE, { keyPath: "did" });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function withStore(mode, action) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var request = action(tx.objectStore(STORE));
        tx.oncomplete = function () { db.close(); resolve(request.result); };
        tx.onerror = tx.onabort = function () { db.close(); reject(tx.error); };
      });
    });
  }

  function saveKey(record) {
    return withStore("readwrite", function (s) { return s.put(record); });
  }
  function loadKey(did) { return withStore("readonly", function (s) { return s.get(did); }); }
  function forgetKey(did) { return withStore("readwrite", function (s) { return s.delete(did); }); }

  // --- talking to the node -------------------------------------------------------------------

  function csrfToken(root) {
    var input = root.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function postJson(root, url, body) {
    var response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(root) },
      body: JSON.stringify(body)
    });
    if ((response.headers.get("Content-Type") || "").indexOf("application/json") !== 0) {
      // A page instead of JSON: the session ended (sign-in page) or the request was refused.
      return {
        ok: false, status: response.status,
        data: { error: "The node answered with a page, not JSON: sign in again and retry." }
      };
    }
    var data = {};
    try { data = await response.json(); } catch (err) { data = {}; }
    return { ok: response.ok, status: response.status, data: data };
  }

  function problem(err) {
    if (err && err.name === "NotSupportedError") {
      return "This browser's WebCrypto has no Ed25519 keys: " +
        "use a recent Chromium, Firefox or Safari.";
    }
    return (err && err.message) || String(err);
  }

  function say(element, text, isError) {
    element.textContent = text;
    element.classList.toggle("status-error", !!isError);
  }

  function webCryptoMissing() {
    return !(window.crypto && crypto.subtle && window.indexedDB);
  }

  // --- the self-custody page -----------------------------------------------------------------

  function initSelfCustody(root) {
    var status = document.getElementById("self-custody-status");
    var busy = false;

    async function switchTo(makeKey) {
      if (busy) { return; }
      busy = true;
      try {
        say(status, "Preparing your key…");
        var key = await makeKey();
        await saveKey(key);
        say(status, "Asking the node for a challenge…");
        var challenge = await postJson(root, root.dataset.challengeUrl, {});
        if (!challenge.ok) {
          throw new Error(challenge.data.error || "The node gave no challenge.");
        }
        var proof = await signJws(
          { kid: verificationMethod(key.did) },
          {
            iss: key.did, aud: challenge.data.domain, nonce: challenge.data.nonce,
            purpose: "did_control"
          },
          key.privateKey);
        say(status, "Proving to the node that this browser holds the key…");
        var answer = await postJson(root, root.dataset.registerUrl, { proof: proof });
        if (!answer.ok) {
          if (key.origin === "generated") { await forgetKey(key.did); }
          throw new Error(answer.data.error || "The node refused the proof.");
        }
        status.classList.remove("status-error");
        status.textContent = "";
        status.append(
          "Done: your wallet is in self-custody with the DID " + answer.data.did + ". ");
        var link = document.createElement("a");
        link.href = answer.data.wallet_url;
        link.textContent = "Open your wallet";
        status.append(link);
      } catch (err) {
        say(status, problem(err), true);
      } finally {
        busy = false;
      }
    }

    root.querySelector("[data-action=generate]").addEventListener("click", function () {
      switchTo(generateKey);
    });
    root.querySelector("form[data-action=import]").addEventListener("submit", function (event) {
      event.preventDefault();
      var text = root.querySelector("#jwk-text").value.trim();
      var file = root.querySelector("#jwk-file").files[0];
      switchTo(async function () {
        if (!text && file) {
          if (file.size > 16 * 1024) { throw new Error("A key file is smaller than 16 KB."); }
          text = (await file.text()).trim();
        }
        if (!text) { throw new Error("Paste the exported key, or choose its file."); }
        return importJwk(text);
      });
    });
  }

  // --- presenting ----------------------------------------------------------------------------

  function disclosureName(disclosure) {
    try {
      var value = JSON.parse(decoder.decode(b64urlDecode(disclosure)));
      return Array.isArray(value) && value.length === 3 ? value[1] : null;
    } catch (err) {
      return null;
    }
  }

  async function presentSdJwt(issuance, names, nonce, audience, privateKey) {
    // "<issuer JWT>~<disclosure>~...~": keep the JWT and the chosen disclosures only.
    var parts = issuance.split("~");
    var chosen = parts.slice(1).filter(function (d) {
      return d && names.indexOf(disclosureName(d)) !== -1;
    });
    var presented = parts[0] + "~" + chosen.map(function (d) { return d + "~"; }).join("");
    var keyBinding = await signJws(
      { typ: "kb+jwt" },
      {
        nonce: nonce, aud: audience, iat: Math.floor(Date.now() / 1000),
        sd_hash: await sha256(presented)
      },
      privateKey);
    return presented + keyBinding;
  }

  async function buildEnvelope(request, privateKey) {
    var vp = {
      "@context": [CREDENTIALS_V1_CONTEXT],
      type: ["VerifiablePresentation"],
      holder: request.did,
      verifiableCredential: request.ldp
    };
    var token = await signJws(
      { kid: verificationMethod(request.did) },
      { iss: request.did, aud: request.domain, nonce: request.nonce, vp: vp },
      privateKey);
    var sdJwts = [];
    for (var i = 0; i < request.sd_jwt.length; i++) {
      var item = request.sd_jwt[i];
      sdJwts.push(await presentSdJwt(
        item.credential, item.disclose, request.nonce, request.domain, privateKey));
    }
    return { presentation: token, sd_jwt: sdJwts };
  }

  function initPresent(root) {
    var request = JSON.parse(document.getElementById(root.dataset.request).textContent);
    var status = document.getElementById("present-status");
    var result = document.getElementById("present-result");
    var button = root.querySelector("[data-action=sign]");

    button.addEventListener("click", async function () {
      button.disabled = true;
      try {
        var key = await loadKey(request.did);
        if (!key) {
          throw new Error("The key of your DID " + request.did + " is not in this browser. " +
            "Use the browser where you switched to self-custody.");
        }
        say(status, "Signing in this browser…");
        var envelope = await buildEnvelope(request, key.privateKey);
        say(status, "The node is checking your presentation…");
        var answer = await postJson(root, request.verify_url, envelope);
        if (typeof answer.data.html === "string") {
          say(status, "");
          result.innerHTML = answer.data.html;
        } else {
          throw new Error(answer.data.reason || answer.data.error || "The node did not answer.");
        }
      } catch (err) {
        say(status, problem(err), true);
        button.disabled = false;
      }
    });
  }

  function init() {
    var roots = document.querySelectorAll("[data-wallet]");
    for (var i = 0; i < roots.length; i++) {
      var root = roots[i];
      if (webCryptoMissing()) {
        var note = document.createElement("p");
        note.className = "form-errors";
        note.textContent =
          "This browser has no WebCrypto or IndexedDB here, so it cannot hold your key.";
        root.prepend(note);
        continue;
      }
      if (root.dataset.wallet === "self-custody") { initSelfCustody(root); }
      if (root.dataset.wallet === "present") { initPresent(root); }
      // The buttons stay disabled until their handlers are there (and without JavaScript).
      var waiting = root.querySelectorAll("[data-needs-script]");
      for (var j = 0; j < waiting.length; j++) { waiting[j].disabled = false; }
    }
  }

  // For other pages' scripts (loan.js), tests and the curious: the pieces, without any key.
  window.growrWallet = {
    b58encode: b58encode, didFromPublicKey: didFromPublicKey, b64url: b64url,
    verificationMethod: verificationMethod, signJws: signJws, signCompact: signCompact,
    loadKey: loadKey, buildEnvelope: buildEnvelope, postJson: postJson, problem: problem,
    say: say, webCryptoMissing: webCryptoMissing
  };
  init();
})();
