// Live notifications for a signed-in person: a WebSocket to /ws/notifications/ that reconnects
// with backoff when the connection drops, and shows each message in the page's live region.
(function () {
  "use strict";
  var region = document.getElementById("live-notifications");
  if (!region || !("WebSocket" in window)) { return; }
  var delay = 1000;
  var maxDelay = 30000;

  function show(text) {
    var toast = document.createElement("div");
    toast.className = "toast";
    toast.textContent = text;
    region.appendChild(toast);
    setTimeout(function () { toast.remove(); }, 8000);
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws/notifications/");
    socket.onopen = function () { delay = 1000; };
    socket.onmessage = function (event) {
      try { show(JSON.parse(event.data).text); } catch (err) { /* ignore malformed frames */ }
    };
    socket.onclose = function (event) {
      if (event.code === 4401) { return; }  // signed out: nothing to reconnect for
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, maxDelay);
    };
  }
  connect();
})();
