// Draws the dashboard's charts from the JSON rows the page carries beside each table.
(function () {
  "use strict";
  var COLOURS = ["#1f5fa8", "#d9822b", "#2e8540", "#8e44ad", "#c0392b", "#16a085"];

  function rows(name) {
    return JSON.parse(document.getElementById(name + "-data").textContent);
  }
  function number(value) {
    return value === null || value === undefined ? null : Number(value);
  }
  function series(data, label, field, index, extra) {
    return Object.assign({
      label: label,
      data: data.map(function (row) { return number(row[field]); }),
      backgroundColor: COLOURS[index % COLOURS.length],
      borderColor: COLOURS[index % COLOURS.length]
    }, extra || {});
  }
  var BUILDERS = {
    repurchase: function (data) {
      return { type: "bar", data: { labels: data.map(function (r) { return r.tier; }),
        datasets: [series(data, "Repurchase rate", "repurchase_rate", 0)] },
        options: { scales: { y: { min: 0, max: 1 } } } };
    },
    cohorts: function (data) {
      return { type: "line", data: { labels: data.map(function (r) { return r.month; }),
        datasets: [series(data, "30 days", "rate_30d", 0), series(data, "60 days", "rate_60d", 1),
                   series(data, "90 days", "rate_90d", 2)] },
        options: { scales: { y: { min: 0, max: 1 } } } };
    },
    points: function (data) {
      return { type: "bar", data: { labels: data.map(function (r) { return r.month; }),
        datasets: [series(data, "Issued", "issued", 0), series(data, "Redeemed", "redeemed", 1),
                   series(data, "Expired", "expired", 4),
                   series(data, "Closing balance", "closing", 2, { type: "line", yAxisID: "balance" })] },
        options: { scales: { y: { beginAtZero: true, position: "left" },
                             balance: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } } } } };
    },
    satisfaction: function (data) {
      return { type: "bar", data: { labels: data.map(function (r) { return r.tier; }),
        datasets: [series(data, "Happy CSAT share", "csat_happy_rate", 0),
                   series(data, "NPS", "nps", 1, { type: "line", yAxisID: "nps" })] },
        options: { scales: { y: { min: 0, max: 1, position: "left" },
                             nps: { min: -100, max: 100, position: "right", grid: { drawOnChartArea: false } } } } };
    },
    service: function (data) {
      return { type: "bar", data: { labels: data.map(function (r) { return r.tier; }),
        datasets: [series(data, "Recovered within 48 h: repurchase rate", "recovered_repurchase_rate", 2),
                   series(data, "Others: repurchase rate", "unrecovered_repurchase_rate", 4)] },
        options: { scales: { y: { min: 0, max: 1 } } } };
    }
  };
  function draw() {
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var kind = canvas.dataset.chart;
      var config = BUILDERS[kind](rows(kind));
      config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false }, config.options);
      new window.Chart(canvas, config);
      canvas.dataset.drawn = "true";
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
