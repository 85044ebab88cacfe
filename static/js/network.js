// The Network page's live part: a WebSocket to /ws/network/ sends the re-rendered picture and
// table whenever the peer table changes. It reconnects with backoff when the connection drops;
// while the socket is down the script asks the page's JSON endpoint for the same update every
// 15 s instead. data-connected is set while the socket is open, data-polling while it is not.
(function () {
  "use strict";
  var live = document.getElementById("network-live");
  var summary = document.getElementById("network-summary");
  if (!live) { return; }
  var delay = 1000;
  var maxDelay = 30000;
  var pollEvery = 15000;
  var poller = null;

  function update(answer) {
    if (!answer) { return; }
    if (typeof answer.html === "string" && live.innerHTML !== answer.html) { live.innerHTML = answer.html; }
    if (summary && typeof answer.summary === "string" && summary.textContent !== answer.summary) {
      summary.textContent = answer.summary;
    }
  }

  function poll() {
    fetch(live.dataset.poll, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(update)
      .catch(function () { /* the node is unreachable: try again at the next tick */ });
  }

  function startPolling() {
    if (poller === null && live.dataset.poll) {
      live.setAttribute("data-polling", "true");
      poll();
      poller = setInterval(poll, pollEvery);
    }
  }

  function stopPolling() {
    if (poller !== null) { clearInterval(poller); poller = null; }
    live.removeAttribute("data-polling");
  }

  function connect() {
    if (!("WebSocket" in window)) { startPolling(); return; }
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + live.dataset.socket);
    socket.onopen = function () {
      delay = 1000;
      stopPolling();
      live.setAttribute("data-connected", "true");
    };
    socket.onmessage = function (event) {
      try { update(JSON.parse(event.data)); } catch (err) { /* ignore malformed frames */ }
    };
    socket.onclose = function (event) {
      live.removeAttribute("data-connected");
      if (event.code === 4403) { stopPolling(); return; }  // not allowed: neither will polling be
      startPolling();
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, maxDelay);
    };
  }
  connect();
})();
