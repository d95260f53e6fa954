// Small helpers for the console: a form's submit button is disabled once pressed, so a double
// click sends one request (the server also refuses a second redemption of the same form).
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.method.toLowerCase() !== "post" || event.defaultPrevented) {
      return;
    }
    form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (button) {
      setTimeout(function () { button.disabled = true; }, 0);
    });
  });
})();
