// The Network page's live part: a WebSocket to /ws/network/ sends the re-rendered picture and
// table whenever the peer table changes; reconnects with backoff when the connection drops.
(function () {
  "use strict";
  var live = document.getElementById("network-live");
  var summary = document.getElementById("network-summary");
  if (!live || !("WebSocket" in window)) { return; }
  var delay = 1000;
  var maxDelay = 30000;

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + live.dataset.socket);
    socket.onopen = function () { delay = 1000; live.setAttribute("data-connected", "true"); };
    socket.onmessage = function (event) {
      var update;
      try { update = JSON.parse(event.data); } catch (err) { return; }
      if (typeof update.html === "string") { live.innerHTML = update.html; }
      if (summary && typeof update.summary === "string" && summary.textContent !== update.summary) {
        summary.textContent = update.summary;
      }
    };
    socket.onclose = function (event) {
      live.removeAttribute("data-connected");
      if (event.code === 4403) { return; }  // not allowed: reconnecting will not change that
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, maxDelay);
    };
  }
  connect();
})();
