// The project editor: the unit of the durations and the grace period follows the repayment
// frequency (months, weeks, fortnights, or days for a single repayment). No build step.
(function () {
  "use strict";

  function init() {
    var form = document.getElementById("project-form");
    var unitsData = document.getElementById("duration-units");
    if (!form || !unitsData) { return; }
    var units = JSON.parse(unitsData.textContent);
    var frequency = form.querySelector("[name=repayment_frequency]");
    if (!frequency) { return; }
    frequency.addEventListener("change", function () {
      var unit = units[frequency.value] || "periods";
      var labels = form.querySelectorAll("[data-duration-unit]");
      for (var i = 0; i < labels.length; i++) { labels[i].textContent = unit; }
    });
  }

  init();
})();
