// A monitor's charts (geo_service/templates/monitor.html) and a site's prediction against
// measurement (monitoring_site.html), drawn with the vendored Apache ECharts from the
// figures the page carries in #monitor-data or #comparison-data; nothing is fetched.
(function () {
  "use strict";
  var source = document.getElementById("monitor-data") || document.getElementById("comparison-data");
  if (!source || !window.echarts) { return; }
  var data = JSON.parse(source.textContent);
  var en = data.lang === "en";
  var figures = data.figures;
  var charts = [];

  function t(zh, english) { return en ? english : zh; }

  function draw(id, option) {
    var element = document.getElementById(id);
    if (!element) { return; }
    var chart = echarts.init(element, null, { locale: en ? "EN" : "ZH", renderer: "svg" });
    chart.setOption(option);
    element.setAttribute("data-drawn", "true");
    charts.push(chart);
  }

  function frame(unit, series, legend) {
    return {
      animation: false,  // drawn whole at once: a phone and a screenshot see every point
      tooltip: { trigger: "axis" },
      legend: { data: legend, top: 0, type: "scroll" },
      grid: { left: 8, right: 12, bottom: 8, top: 40, containLabel: true },
      xAxis: { type: "time", min: figures.from, max: figures.to },
      yAxis: { type: "value", name: unit, scale: true },
      series: series
    };
  }

  function line(name, points, colour, extra) {
    var s = { name: name, type: "line", data: points, showSymbol: false, connectNulls: false,
              color: colour, lineStyle: { width: 1.5 } };
    for (var k in extra || {}) { s[k] = extra[k]; }
    return s;
  }

  (figures.monitors || []).forEach(function (m, i) {
    var measured = t("实测昼间 LAeq", "Measured day LAeq"), predicted = t("预测 Leq", "Predicted Leq");
    draw("chart-compare-" + (i + 1), {
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { data: [measured, predicted], top: 0 },
      grid: { left: 8, right: 12, bottom: 8, top: 36, containLabel: true },
      xAxis: { type: "category", data: m.days.map(function (d) { return d.day.slice(5); }) },
      yAxis: { type: "value", name: "dB(A)", scale: true },
      series: [
        { name: measured, type: "bar", color: "#1f77b4",
          data: m.days.map(function (d) { return d.measured_laeq_day; }) },
        { name: predicted, type: "line", color: "#c0392b", showSymbol: false,
          lineStyle: { type: "dashed" },
          data: m.days.map(function (d) { return d.predicted_leq_day; }) }
      ]
    });
  });
  var noise = figures.noise;
  if (noise) {
    var laeq = t("LAeq（20 分钟）", "LAeq (20 min)"), limit = t("昼/夜限值", "Day/night limit");
    draw("chart-laeq", frame("dB(A)", [
      line(laeq, noise.laeq.map(function (p) { return [p[0], p[1]]; }), "#1f77b4"),
      line(limit, noise.laeq.map(function (p) { return [p[0], p[2]]; }), "#c0392b",
           { step: "end", lineStyle: { type: "dashed", width: 1.5 } })
    ], [laeq, limit]));
    var lmax = t("夜间 Lmax", "Night Lmax"), lmaxLimit = t("Lmax 限值", "Lmax limit");
    draw("chart-lmax", frame("dB(A)", [
      line(lmax, noise.night_lmax, "#9467bd", { type: "scatter", symbolSize: 4 }),
      line(lmaxLimit, [], "#c0392b", { markLine: { symbol: "none", silent: true,
        lineStyle: { type: "dashed", color: "#c0392b" },
        data: [{ yAxis: noise.lmax_limit, name: lmaxLimit }] } })
    ], [lmax, lmaxLimit]));
  }
  var dust = figures.dust;
  if (dust) {
    var means = t("小时均值", "Hourly mean"), dustLimit = t("限值", "Limit");
    var series = [line(means, dust.means, "#8c564b")];
    if (dust.limit !== null) {
      series.push(line(dustLimit, [], "#c0392b", { markLine: { symbol: "none", silent: true,
        lineStyle: { type: "dashed", color: "#c0392b" },
        data: [{ yAxis: dust.limit, name: dustLimit }] } }));
    }
    draw("chart-dust", frame("µg/m³", series, dust.limit !== null ? [means, dustLimit] : [means]));
  }
  window.addEventListener("resize", function () {
    charts.forEach(function (chart) { chart.resize(); });
  });
})();
