// Live notifications for a signed-in person. A WebSocket to /ws/notifications/?after=<last id
// seen> sends what the page missed, then every new notification; each shows as a toast (with a
// link when it has one) and counts on the header's bell. When the socket drops, the script
// reconnects with backoff and, until it is back, asks GET /api/notifications/?after=<id> every
// 15 s instead. The last id seen is kept in sessionStorage, so the next page of the same tab
// asks for exactly what it has not shown. The bell's data-live-state says which way news comes:
// connecting, connected, polling, or offline (signed out).
//
// Parts of a page marked data-live-refresh="<kind> ..." (with an id) are read again from the
// server when a notification of one of those kinds arrives: the staff's queue counts, say.
(function () {
  "use strict";
  var region = document.getElementById("live-notifications");
  var bell = document.getElementById("notification-bell");
  if (!region || !bell) { return; }
  var count = bell.querySelector("[data-unread]");
  var storageKey = "growr.notifications.after." + (bell.dataset.who || "");
  var delay = 1000;
  var maxDelay = 30000;
  var pollEvery = 15000;
  var maxToasts = 5;
  var poller = null;
  var refreshTimer = null;
  var refreshKinds = {};
  var shown = {};
  // The bell's count, as the page was served, includes every notification up to this id.
  var servedLatest = parseInt(bell.dataset.lastId, 10) || 0;
  var lastId = readLastId();

  function readLastId() {
    try {
      var stored = sessionStorage.getItem(storageKey);
      if (stored !== null) { return parseInt(stored, 10) || 0; }
    } catch (err) { /* storage refused (private mode): start from the page */ }
    return servedLatest;
  }

  function saveLastId() {
    try { sessionStorage.setItem(storageKey, String(lastId)); } catch (err) { /* see above */ }
  }

  function setState(state) { bell.setAttribute("data-live-state", state); }

  function setUnread(value) {
    if (!count) { return; }
    count.textContent = String(value);
    count.parentElement.hidden = value <= 0;
  }

  function toast(notification) {
    var node = document.createElement("div");
    node.className = "toast";
    node.setAttribute("data-notification", String(notification.id));
    if (notification.link) {
      var link = document.createElement("a");
      link.href = notification.link;
      link.textContent = notification.text;
      node.appendChild(link);
    } else {
      node.textContent = notification.text;
    }
    region.appendChild(node);
    while (region.children.length > maxToasts) { region.removeChild(region.firstChild); }
    setTimeout(function () { node.remove(); }, 8000);
  }

  function handle(notification) {
    if (!notification || typeof notification.id !== "number" || shown[notification.id]) { return; }
    shown[notification.id] = true;
    if (notification.id > lastId) { lastId = notification.id; saveLastId(); }
    toast(notification);
    if (!notification.read_at && notification.id > servedLatest && count) {
      setUnread((parseInt(count.textContent, 10) || 0) + 1);
    }
    if (document.querySelector('[data-live-refresh~="' + notification.kind + '"]')) {
      refreshKinds[notification.kind] = true;
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(refresh, 500);  // one read for a burst of notifications
    }
  }

  function refresh() {
    var kinds = Object.keys(refreshKinds);
    refreshKinds = {};
    fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        kinds.forEach(function (kind) {
          document.querySelectorAll('[data-live-refresh~="' + kind + '"][id]').forEach(function (part) {
            var replacement = fresh.getElementById(part.id);
            if (replacement) { part.innerHTML = replacement.innerHTML; }
          });
        });
      })
      .catch(function () { /* the next notification tries again */ });
  }

  function poll() {
    var url = bell.dataset.poll + "?after=" + encodeURIComponent(lastId);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (!answer || !Array.isArray(answer.results)) { return; }
        answer.results.forEach(handle);
        setUnread(answer.unread);
        if (answer.more && poller !== null) { poll(); }
      })
      .catch(function () { /* the node is unreachable: try again at the next tick */ });
  }

  function startPolling() {
    setState("polling");
    if (poller === null) {
      poller = setInterval(poll, pollEvery);
      poll();
    }
  }

  function stopPolling() {
    if (poller !== null) { clearInterval(poller); poller = null; }
  }

  function connect() {
    if (!("WebSocket" in window)) { startPolling(); return; }
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws/notifications/?after=" + lastId);
    socket.onopen = function () {
      delay = 1000;
      stopPolling();
      setState("connected");
    };
    socket.onmessage = function (event) {
      try { handle(JSON.parse(event.data)); } catch (err) { /* ignore malformed frames */ }
    };
    socket.onclose = function (event) {
      if (event.code === 4401) { stopPolling(); setState("offline"); return; }  // signed out
      startPolling();
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, maxDelay);
    };
  }
  saveLastId();
  connect();
})();
