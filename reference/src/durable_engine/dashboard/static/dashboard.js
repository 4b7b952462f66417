// After a live update of a runs list: a run can arrive both in the page and as a new row of
// its stream (created between the page's read and the stream's start): keep one row per run.
(function () {
  "use strict";
  document.addEventListener("htmx:sseMessage", function () {
    var body = document.getElementById("runs");
    if (!body) { return; }
    var seen = {};
    Array.prototype.slice.call(body.children).forEach(function (row) {
      if (seen[row.id]) { row.remove(); } else { seen[row.id] = true; }
    });
  });
})();
