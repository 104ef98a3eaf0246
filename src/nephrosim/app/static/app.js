// nephrosim app: the little JavaScript the server-rendered pages need.
"use strict";
const nephrosim = {
  // The builder: changing an injury model or a product redraws the form on the server.
  builder() {
    const form = document.getElementById("builder");
    if (!form) return;
    form.querySelectorAll("select[data-refresh]").forEach((el) => {
      el.addEventListener("change", () => form.requestSubmit(document.getElementById("refresh")));
    });
  },

  // A run's page: poll its state until it ends, then show the results.
  runPage(runId, active) {
    if (active) {
      const poll = async () => {
        let status;
        try {
          const response = await fetch(`/api/runs/${runId}`, {cache: "no-store"});
          status = await response.json();
        } catch (err) {
          document.getElementById("run-label").textContent = "server not reachable: " + err;
          setTimeout(poll, 2000);
          return;
        }
        document.getElementById("run-state").textContent = status.state;
        document.getElementById("run-label").textContent = status.label;
        document.getElementById("run-elapsed").textContent = status.elapsed_s;
        const bar = document.getElementById("run-progress");
        bar.max = status.total;
        bar.value = status.done;
        document.getElementById("run-steps").textContent = `${status.done} / ${status.total} steps`;
        if (status.state === "queued" || status.state === "running") setTimeout(poll, 400);
        else window.location.reload();
      };
      setTimeout(poll, 300);
    }
    const data = document.getElementById("plot-data");
    if (data) nephrosim.plots(JSON.parse(data.textContent));
  },

  // One Plotly chart per readout, every arm overlaid; untreated arms as a wide grey band.
  plots(data) {
    const box = document.getElementById("plots");
    const dashes = ["solid", "dash", "dashdot", "dot"];
    const charts = [];
    data.panels.forEach((panel, k) => {
      const div = document.createElement("div");
      div.className = "plot";
      div.id = `plot-${panel.readout}`;
      box.appendChild(div);
      let treated = 0;
      const traces = panel.arms.map((a) => {
        const name = a.status === "ok" ? a.arm : `${a.arm} (${a.status})`;
        if (a.untreated) {
          return {x: a.x, y: a.y, name: `${name} (untreated)`, mode: "lines",
                  line: {color: "rgba(140,140,140,0.6)", width: 6}};
        }
        const t = {x: a.x, y: a.y, name, mode: "lines+markers", marker: {size: 5},
                   line: {dash: dashes[treated % 4], width: 2}};
        treated += 1;
        return t;
      });
      const layout = {
        title: {text: panel.description, font: {size: 13}},
        xaxis: {title: {text: `time after insult [${data.time_unit}]`}, type: "linear"},
        yaxis: {title: {text: `${panel.readout} [${panel.unit}]`}},
        margin: {t: 48, r: 10, b: 48, l: 64}, height: 320,
        legend: {orientation: "h", y: -0.25}, showlegend: true,
      };
      Plotly.newPlot(div, traces, layout, {responsive: true, displaylogo: false});
      charts.push(div);
    });
    document.querySelectorAll("input[name=timeaxis]").forEach((radio) => {
      radio.addEventListener("change", () => {
        charts.forEach((div) => Plotly.relayout(div, {"xaxis.type": radio.value, "xaxis.autorange": true}));
      });
    });
    box.dataset.ready = "1";
  },
};
document.addEventListener("DOMContentLoaded", () => nephrosim.builder());
