// The metrics page's charts: reads the metrics read model as JSON (the page's data-source)
// and draws it with uPlot; refreshed every 15 s. No inline script (the CSP forbids it).
(function () {
  "use strict";
  const root = document.getElementById("metrics");
  if (!root || typeof uPlot === "undefined") return;
  const status = document.getElementById("metrics-status");
  const charts = {};
  const COLORS = ["#2563eb", "#16a34a", "#dc2626", "#6b7280", "#9333ea"];

  function ms(v) {
    if (v == null) return "–";
    if (v < 1) return v.toFixed(2) + " ms";
    if (v < 1000) return v.toFixed(v < 10 ? 1 : 0) + " ms";
    if (v < 60000) return (v / 1000).toFixed(1) + " s";
    if (v < 3600000) return (v / 60000).toFixed(1) + " min";
    if (v < 86400000) return (v / 3600000).toFixed(1) + " h";
    return (v / 86400000).toFixed(1) + " d";
  }

  function positive(values) {  // a log scale cannot show 0
    return values.map(function (v) { return v == null ? null : Math.max(v, 0.01); });
  }

  function specs(d) {
    return [
      {id: "chart-runs", values: [["started", d.runs.started], ["completed", d.runs.completed],
                                  ["failed", d.runs.failed], ["cancelled", d.runs.cancelled]]},
      {id: "chart-backlog", values: [["due", d.backlog.due], ["running", d.backlog.running],
                                     ["sleeping", d.backlog.sleeping],
                                     ["waiting", d.backlog.waiting],
                                     ["retrying", d.backlog.retrying]]},
      {id: "chart-app", log: true, values: [["p50", positive(d.appMs.p50)],
                                            ["p90", positive(d.appMs.p90)],
                                            ["p99", positive(d.appMs.p99)]]},
      {id: "chart-durable", log: true, values: [["p50", positive(d.durableMs.p50)],
                                                ["p90", positive(d.durableMs.p90)],
                                                ["p99", positive(d.durableMs.p99)]]},
    ];
  }

  function options(spec, width) {
    const series = [{}];
    spec.values.forEach(function (entry, i) {
      series.push({label: entry[0], stroke: COLORS[i % COLORS.length], width: 1.5,
                   spanGaps: false, points: {show: spec.id !== "chart-runs", size: 4},
                   value: spec.log ? function (u, v) { return ms(v); } : null});
    });
    return {
      width: width, height: 220, series: series,
      scales: {x: {time: true}, y: spec.log ? {distr: 3} : {range: function (u, min, max) {
        return [0, Math.max(1, max)];
      }}},
      axes: [{}, {size: 64, values: spec.log ? function (u, ticks) {
        return ticks.map(function (v) { return v == null ? "" : ms(v); });
      } : null}],
    };
  }

  function draw(d) {
    specs(d).forEach(function (spec) {
      const el = document.getElementById(spec.id);
      const data = [d.timestamps].concat(spec.values.map(function (e) { return e[1]; }));
      if (charts[spec.id]) {
        charts[spec.id].setData(data);
      } else {
        charts[spec.id] = new uPlot(options(spec, Math.max(280, el.clientWidth)), data, el);
      }
      el.dataset.points = String(d.timestamps.length);
    });
    status.textContent = "Updated " + new Date().toLocaleTimeString() + ".";
  }

  function load() {
    fetch(root.dataset.source, {headers: {"Accept": "application/json"},
                                credentials: "same-origin"})
      .then(function (answer) {
        if (!answer.ok) throw new Error("the engine answered " + answer.status);
        return answer.json();
      })
      .then(draw)
      .catch(function (error) { status.textContent = "Could not load metrics: " + error.message; });
  }

  window.addEventListener("resize", function () {
    Object.keys(charts).forEach(function (id) {
      const el = document.getElementById(id);
      charts[id].setSize({width: Math.max(280, el.clientWidth), height: 220});
    });
  });
  load();
  setInterval(load, 15000);
})();
