// The apply page's schedule follows the amount and duration as they are typed: the form is
// posted as a preview (the same request "Show the schedule" makes) and the schedule part of the
// answer replaces the one shown. Without JavaScript the button does the same with a reload.
(function () {
  "use strict";

  function init() {
    var form = document.getElementById("application-form");
    var preview = document.getElementById("schedule-preview");
    if (!form || !preview) return;
    var fields = form.querySelectorAll("input[name=amount], input[name=duration]");
    var timer = null;
    var latest = 0;

    async function refresh() {
      var body = new FormData(form);
      body.set("action", "preview");
      var asked = ++latest;
      try {
        // form.action would be the button named "action", not the attribute.
        var response = await fetch(form.getAttribute("action") || window.location.href, {
          method: "POST", body: body, credentials: "same-origin",
        });
        if (!response.ok || asked !== latest) return;
        var page = new DOMParser().parseFromString(await response.text(), "text/html");
        var fresh = page.getElementById("schedule-preview");
        if (fresh && asked === latest) preview.innerHTML = fresh.innerHTML;
      } catch (err) {
        // Offline or the node is restarting: the button still works.
      }
    }

    fields.forEach(function (field) {
      field.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(refresh, 400);
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
