// Progressive enhancement for Portus pages; everything works without it.
// Served from /static so that the Content-Security-Policy needs no inline
// script.
(function () {
  "use strict";

  // Browsers skip autofocus when the URL's fragment names an element, as
  // the forms' actions do (#password-title …) so that a failed form scrolls
  // back to itself without script. Focus the field in error here, leaving
  // the scroll where the fragment put it.
  // After load: the fragment's scroll, which happens until then, would
  // take the focus away again.
  window.addEventListener("load", function () {
    var auto = document.querySelector("[autofocus]");
    if (auto && document.activeElement !== auto) {
      auto.focus({ preventScroll: true });
    }
  });

  // The copy button next to a new token: shown only when this script runs.
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      input.focus();
      input.select();
      var status = document.getElementById(button.getAttribute("data-status"));
      var done = function () {
        button.textContent = "Copied";
        if (status) { status.textContent = "Token copied to the clipboard."; }
        setTimeout(function () { button.textContent = "Copy"; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () {
          if (document.execCommand("copy")) { done(); }
        });
      } else if (document.execCommand("copy")) {
        done();
      }
    });
  });

  // A character counter for fields with a maxlength, such as the token
  // name: "12 of 64 used".
  document.querySelectorAll("input[data-counter][maxlength]").forEach(function (input) {
    var out = document.getElementById(input.getAttribute("data-counter"));
    if (!out) {
      return;
    }
    var update = function () {
      out.textContent = " (" + input.value.length + " used)";
    };
    input.addEventListener("input", update);
    update();
  });

  // The warning under the expiry choice shows while "never" is chosen;
  // without this script the page shows it as the server rendered it.
  document.querySelectorAll("select[data-never-warning]").forEach(function (select) {
    var warning = document.getElementById(select.getAttribute("data-never-warning"));
    if (!warning) {
      return;
    }
    var update = function () { warning.hidden = select.value !== ""; };
    select.addEventListener("change", update);
    update();
  });

  // A click into a read-only token selects all of it.
  document.querySelectorAll("input.token[readonly]").forEach(function (input) {
    input.addEventListener("focus", function () { input.select(); });
  });
})();
