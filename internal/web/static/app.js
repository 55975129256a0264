// Progressive enhancements only: every form works without this file.
(function () {
  "use strict";
  // Tell the server the viewer's time zone so times are shown in it.
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz && document.cookie.indexOf("gh_tz=" + encodeURIComponent(tz)) < 0) {
      document.cookie = "gh_tz=" + encodeURIComponent(tz) + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (e) { /* keep UTC */ }

  document.addEventListener("click", function (ev) {
    var copy = ev.target.closest("[data-copy]");
    if (copy) {
      ev.preventDefault();
      var text = copy.getAttribute("data-copy");
      if (navigator.clipboard) {
        navigator.clipboard.writeText(text).then(function () {
          var old = copy.textContent;
          copy.textContent = "Copied";
          setTimeout(function () { copy.textContent = old; }, 1500);
        });
      }
    }
    var all = ev.target.closest("[data-select-all]");
    if (all) {
      var boxes = document.querySelectorAll("input[type=checkbox][name='" + all.getAttribute("data-select-all") + "']");
      for (var i = 0; i < boxes.length; i++) { boxes[i].checked = all.checked; }
    }
  });

  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { ev.preventDefault(); }
  });

  // Filters that are selects apply on change; the Apply button remains for
  // no-JS use.
  document.addEventListener("change", function (ev) {
    var sel = ev.target.closest("select[data-autosubmit]");
    if (sel && sel.form) { sel.form.requestSubmit ? sel.form.requestSubmit() : sel.form.submit(); }
  });

  // The workspace switcher navigates on change; a button remains for no-JS use.
  var sw = document.getElementById("workspace-switch");
  if (sw) {
    sw.addEventListener("change", function () { window.location = sw.value; });
    var btn = document.getElementById("workspace-go");
    if (btn) { btn.hidden = true; }
  }
})();
