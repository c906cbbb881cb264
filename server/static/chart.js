// Draws the series embedded in the page: p50 with its p10-p90 band, and for A/B runs the change
// against the control with its interval. Regressions are red marks; clicking any point opens its comparison.
// Plotly reads tags such as <a href> and <span style> in hover and tick text, so every stored string is
// escaped before it reaches the chart: a device or commit name shows as the text it is, never as markup.
(function () {
  const holder = document.getElementById("chart");
  const source = document.getElementById("series-data");
  if (!holder || !source || typeof Plotly === "undefined") return;
  const series = JSON.parse(source.textContent);
  const points = series.points;
  const x = points.map((_, index) => index);
  const unit = escaped(points.length ? points[0].unit : "");
  const hover = points.map((p) => [
    `commit ${shortCommit(p.commit)}` + (p.control_commit ? ` vs ${shortCommit(p.control_commit)}` : ""),
    `p50 ${format(p.p50)} ${unit}`,
    p.estimate_pct === null ? null : `change ${signed(p.estimate_pct)}%`,
    p.verdict ? `verdict ${escaped(p.verdict)}` : null,
    p.device ? `device ${escaped(p.device)}` : null,
  ].filter(Boolean).join("<br>"));
  const urls = points.map((p) => p.url);
  const compared = points.some((p) => p.estimate_pct !== null);
  const regression = points.map((p) => p.verdict === "regression");
  const pick = (values) => values.filter((_, index) => regression[index]);

  const traces = [
    { x, y: points.map((p) => p.p90), mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false },
    {
      x, y: points.map((p) => p.p10), mode: "lines", line: { width: 0 }, fill: "tonexty",
      fillcolor: "rgba(31, 119, 180, 0.2)", name: "p10–p90", hoverinfo: "skip",
    },
    {
      x, y: points.map((p) => p.p50), mode: "lines+markers", name: "p50", uid: "p50",
      line: { color: "#1f77b4" }, text: hover, hoverinfo: "text", customdata: urls,
    },
    {
      x: pick(x), y: pick(points.map((p) => p.p50)), mode: "markers", name: "regression", uid: "regressions",
      marker: { color: "#d62728", size: 14, symbol: "x" }, text: pick(hover), hoverinfo: "text",
      customdata: pick(urls),
    },
  ];
  const layout = {
    margin: { t: 20, r: 20, b: 90, l: 70 },
    hovermode: "closest",
    legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
    xaxis: {
      tickvals: x, ticktext: points.map((p) => shortCommit(p.commit)), tickangle: -45,
      title: { text: "commit" }, automargin: true, anchor: compared ? "y2" : "y",
    },
    yaxis: { title: { text: `p50 (${unit})` }, domain: compared ? [0.42, 1] : [0, 1] },
  };
  if (compared) {
    const estimate = points.map((p) => p.estimate_pct);
    traces.push(
      {
        x, y: estimate, yaxis: "y2", mode: "markers", name: "change vs control (95% interval)", uid: "estimates",
        marker: { color: "#555" }, text: hover, hoverinfo: "text", customdata: urls,
        error_y: {
          type: "data", symmetric: false, color: "#999",
          array: points.map((p) => (p.ci_high_pct === null || p.estimate_pct === null ? 0 : p.ci_high_pct - p.estimate_pct)),
          arrayminus: points.map((p) => (p.ci_low_pct === null || p.estimate_pct === null ? 0 : p.estimate_pct - p.ci_low_pct)),
        },
      },
      {
        x: pick(x), y: pick(estimate), yaxis: "y2", mode: "markers", name: "regression", showlegend: false,
        uid: "regression-estimates", marker: { color: "#d62728", size: 14, symbol: "x" }, text: pick(hover),
        hoverinfo: "text", customdata: pick(urls),
      },
    );
    layout.yaxis2 = { title: { text: "change (%)" }, domain: [0, 0.34], anchor: "x", zeroline: true };
  }
  Plotly.newPlot(holder, traces, layout, { responsive: true, displaylogo: false });
  holder.on("plotly_click", (event) => {
    const point = event.points[0];
    if (point && point.customdata) window.location.href = point.customdata;
  });

  function escaped(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  function shortCommit(commit) {
    return escaped((commit || "–").slice(0, 10));
  }
  function format(value) {
    return value === null ? "–" : Number(value).toPrecision(4);
  }
  function signed(value) {
    return (value >= 0 ? "+" : "") + value.toFixed(1);
  }
})();
