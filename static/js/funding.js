// A project's funding progress, live: a WebSocket to /ws/projects/<id>/funding/ sends the new
// figures whenever a commitment changes, and this script moves the bar and rewrites the figures.
// It reconnects with backoff when the connection drops; while the socket is down it asks the
// JSON endpoint for the figures every 15 s instead. Without JavaScript the page shows the figures
// as they were when it was served.
(function () {
  "use strict";
  var section = document.querySelector("[data-funding][data-socket]");
  if (!section) { return; }
  var progress = section.querySelector("[data-progress]");
  var delay = 1000;
  var maxDelay = 30000;
  var pollEvery = 15000;
  var poller = null;

  function setText(name, value) {
    var node = section.querySelector('[data-figure="' + name + '"]');
    if (node && value !== undefined && node.textContent !== String(value)) {
      node.textContent = String(value);
    }
  }

  function update(figures) {
    if (!figures || typeof figures.text !== "object") { return; }
    ["target", "committed", "confirmed", "left"].forEach(function (name) {
      setText(name, figures.text[name]);
    });
    setText("investors", figures.investors);
    setText("committed_percent", figures.committed_percent);
    setText("confirmed_percent", figures.confirmed_percent);
    ["committed", "confirmed"].forEach(function (name) {
      var bar = section.querySelector('[data-bar="' + name + '"]');
      if (bar) { bar.setAttribute("width", figures[name + "_percent"]); }
    });
    if (progress) {
      progress.setAttribute("aria-valuenow", figures.committed_percent);
      progress.setAttribute("aria-valuetext", figures.committed_percent +
        "% of the target committed, " + figures.confirmed_percent + "% confirmed");
    }
    section.setAttribute("data-open", figures.open ? "true" : "false");
    var commit = section.querySelector(".commit-form button[type=submit]");
    if (commit) { commit.disabled = !figures.open; }  // funded or closed meanwhile
  }

  function poll() {
    fetch(section.dataset.poll, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(update)
      .catch(function () { /* the node is unreachable: try again at the next tick */ });
  }

  function startPolling() {
    if (poller === null && section.dataset.poll) {
      poll();
      poller = setInterval(poll, pollEvery);
    }
  }

  function stopPolling() {
    if (poller !== null) { clearInterval(poller); poller = null; }
  }

  function connect() {
    if (!("WebSocket" in window)) { startPolling(); return; }
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + section.dataset.socket);
    socket.onopen = function () {
      delay = 1000;
      stopPolling();
      section.setAttribute("data-connected", "true");
    };
    socket.onmessage = function (event) {
      try { update(JSON.parse(event.data)); } catch (err) { /* ignore malformed frames */ }
    };
    socket.onclose = function (event) {
      section.removeAttribute("data-connected");
      if (event.code === 4404) { return; }  // no such project: nothing to follow
      startPolling();
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, maxDelay);
    };
  }
  connect();
})();
