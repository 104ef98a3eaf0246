// nephrosim app: the little JavaScript the server-rendered pages need.
"use strict";
// Characters per line of the uncertainty band's legend entry (it must fit a plot's width).
const BAND_LEGEND_WIDTH = 46;
const nephrosim = {
  // The scenario builder and the trial form: changing an injury model or a product redraws the
  // form on the server; the draft is kept as it is typed (data-draft-url).
  builder() {
    document.querySelectorAll("form[data-draft-url]").forEach((form) => {
      const anchor = form.querySelector("input[name=_anchor]");
      const redraw = form.querySelector("button[value=refresh]");
      const remember = (el) => { anchor.value = el.closest("fieldset") ? el.closest("fieldset").id : ""; };
      form.querySelectorAll("select[data-refresh]").forEach((el) => {
        el.addEventListener("change", () => { remember(el); form.requestSubmit(redraw); });
      });
      form.addEventListener("submit", (event) => {
        if (event.submitter && event.submitter !== redraw) remember(event.submitter);
      });
      nephrosim.keepDraft(form, form.dataset.draftUrl);
    });
  },

  // The draft is kept on the server as it is typed (a moment after the last change), so it comes
  // back after a reload or a server restart; one save at a time, the latest form wins.
  keepDraft(form, url) {
    const status = document.getElementById("draft-status");
    let timer = null, sending = false, again = false;
    const save = async () => {
      if (sending) { again = true; return; }
      sending = true;
      try {
        const response = await fetch(url, {method: "POST", body: new FormData(form), cache: "no-store"});
        const answer = await response.json();
        status.textContent = answer.saved
          ? "Draft kept on the server for this browser (" + new Date().toLocaleTimeString() + ")."
          : "Draft NOT kept: " + answer.error;
        if (answer.saved) status.dataset.saves = String(Number(status.dataset.saves) + 1);
        else status.dataset.error = "1";
      } catch (err) {
        status.textContent = "Draft not kept: the server is not reachable (" + err + ")";
        status.dataset.error = "1";
      }
      sending = false;
      if (again) { again = false; save(); }
    };
    const changed = () => { clearTimeout(timer); timer = setTimeout(save, 400); };
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    // a submitted form (run, redraw, load, discard) carries or replaces the draft itself: no late save after it
    document.addEventListener("submit", () => clearTimeout(timer), true);
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

  // Mechanisms: one bar per mechanism and treated arm (its share), whiskers = 95 % interval.
  mechanismPlot(data) {
    const traces = data.arms.map((a) => {
      const t = {type: "bar", name: a.arm, x: a.shares.map((s) => s.mechanism), y: a.shares.map((s) => s.value),
                 hovertemplate: "%{x}: %{y:.4g} " + data.unit + "<extra>" + a.arm + "</extra>"};
      if (a.draws) t.error_y = {type: "data", symmetric: false, array: a.shares.map((s) => Math.max(0, s.hi - s.value)),
                                arrayminus: a.shares.map((s) => Math.max(0, s.value - s.lo))};
      return t;
    });
    Plotly.newPlot("mech-plot", traces, {barmode: "group", height: 420, margin: {t: 40, b: 140},
      title: {text: "share of the paracrine benefit (" + data.unit + ")", font: {size: 14}},
      yaxis: {title: {text: data.unit}}, legend: {orientation: "h", y: 1.1}}, {responsive: true});
    document.getElementById("mech-plot").dataset.ready = "1";
  },

  // The sensitivity indices, most influential first, one bar trace per index with its interval
  // (Morris: μ* share and its interval; σ has none and μ* is in the readout's unit, so neither is drawn).
  sensitivityPlot(data) {
    const keys = data.indices.map((i) => i.key).filter((k) => k !== "sigma" && k !== "mu_star");
    const names = data.rows.map((r) => r.name);
    const traces = keys.map((key) => {
      const label = data.indices.find((i) => i.key === key).label;
      const v = data.rows.map((r) => r.indices[key]);
      return {type: "bar", name: label, x: names, y: v.map((x) => x.value),
              error_y: {type: "data", symmetric: false, array: v.map((x) => Math.max(0, x.hi - x.value)),
                        arrayminus: v.map((x) => Math.max(0, x.value - x.lo))},
              hovertemplate: "%{x}: %{y:.3g}<extra>" + label + "</extra>"};
    });
    Plotly.newPlot("sens-plot", traces, {barmode: "group", height: 460, margin: {t: 40, b: 180},
      title: {text: "sensitivity of " + data.readout + " at " + data.at_h + " h (arm " + this.escape(data.arm) + ")",
              font: {size: 14}},
      yaxis: {title: {text: "index"}}, legend: {orientation: "h", y: 1.1}}, {responsive: true});
    document.getElementById("sens-plot").dataset.ready = "1";
  },

  // A design search: P(success) against total patients, one marker per design (the Pareto front joined).
  designPlot(rows) {
    const label = (r) => this.escape(`${r.treatment}, ${r.timing}, ${r.endpoint}, ${r.n_per_arm}/arm`);
    const front = rows.filter((r) => r.pareto).sort((a, b) => a.total_n - b.total_n);
    const traces = [
      {type: "scatter", mode: "markers", name: "design", x: rows.map((r) => r.total_n), y: rows.map((r) => r.p_success),
       text: rows.map(label), hovertemplate: "%{text}<br>n %{x}, P(success) %{y:.3f}<extra></extra>",
       error_y: {type: "data", symmetric: false, array: rows.map((r) => Math.max(0, r.p_success_hi - r.p_success)),
                 arrayminus: rows.map((r) => Math.max(0, r.p_success - r.p_success_lo))}},
      {type: "scatter", mode: "lines+markers", name: "Pareto front", x: front.map((r) => r.total_n),
       y: front.map((r) => r.p_success), text: front.map(label), hovertemplate: "%{text}<extra>front</extra>"}];
    Plotly.newPlot("design-plot", traces, {height: 440, margin: {t: 40},
      title: {text: "P(success) against total patients (95 % Monte-Carlo intervals)", font: {size: 14}},
      xaxis: {title: {text: "total patients (both arms)"}}, yaxis: {title: {text: "P(success)"}, range: [0, 1.02]},
      legend: {orientation: "h", y: 1.1}}, {responsive: true});
    document.getElementById("design-plot").dataset.ready = "1";
  },

  // A protocol search: efficacy against the first risk, every completed trial, the front highlighted.
  protocolPlot(data) {
    const risk = data.risks[0];
    const trace = (rows, name, symbol) => ({type: "scatter", mode: "markers", name, x: rows.map((r) => r[risk]),
      y: rows.map((r) => r.efficacy), text: rows.map((r) => this.escape(r.protocol)),
      marker: {symbol, size: symbol === "star" ? 12 : 7},
      hovertemplate: "%{text}<br>" + risk + " %{x:.3g}, efficacy %{y:.3g}<extra>" + name + "</extra>"});
    Plotly.newPlot("protocol-plot", [trace(data.trials, "trial", "circle"), trace(data.front, "Pareto front", "star")],
      {height: 440, margin: {t: 40}, title: {text: "efficacy against " + risk + " (the front is over every risk)",
                                              font: {size: 14}},
       xaxis: {title: {text: risk + " (lower is better)"}}, yaxis: {title: {text: "efficacy (higher is better)"}},
       legend: {orientation: "h", y: 1.1}}, {responsive: true});
    document.getElementById("protocol-plot").dataset.ready = "1";
  },

  // Text from the evidence store, safe inside plotly's HTML-like labels.
  escape(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  },

  // Break a long title into lines of at most `width` characters.
  wrap(text, width) {
    const lines = [""];
    text.split(" ").forEach((word) => {
      const last = lines.length - 1;
      if (lines[last] && (lines[last] + " " + word).length > width) lines.push(word);
      else lines[last] = lines[last] ? lines[last] + " " + word : word;
    });
    return lines.join("<br>");
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
      const palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
      const bands = [];
      panel.arms.forEach((a, i) => {
        if (!a.lower) return;  // an ensemble: the central 95 % as a shaded band under the median
        const colour = a.untreated ? "rgba(140,140,140,0.25)" : palette[i % palette.length] + "33";
        bands.push({x: a.x, y: a.lower, mode: "lines", line: {width: 0}, showlegend: false, hoverinfo: "skip",
                    legendgroup: a.arm});
        bands.push({x: a.x, y: a.upper, mode: "lines", line: {width: 0}, fill: "tonexty", fillcolor: colour,
                    name: `${a.arm}: 95 % band`, legendgroup: a.arm, showlegend: false});
      });
      const lines = panel.arms.map((a, i) => {
        const name = a.status === "ok" ? a.arm : `${a.arm} (${a.status})`;
        if (a.untreated) {
          return {x: a.x, y: a.y, name: `${name} (untreated)`, mode: "lines",
                  line: {color: "rgba(140,140,140,0.6)", width: 6}};
        }
        const t = {x: a.x, y: a.y, name, mode: "lines+markers", marker: {size: 5},
                   line: {dash: dashes[treated % 4], width: 2, color: palette[i % palette.length]},
                   legendgroup: a.arm};
        treated += 1;
        return t;
      });
      // the uncertainty band of a simulation: drawn first, behind the nominal lines; one legend
      // entry (what the band is) toggles the bands and medians of every arm
      const uncertainty = [];
      panel.arms.forEach((a, i) => {
        if (!a.band) return;
        const colour = a.untreated ? "rgba(120,120,120,0.22)" : palette[i % palette.length] + "2e";
        const lineColour = a.untreated ? "rgba(90,90,90,0.9)" : palette[i % palette.length];
        const first = uncertainty.length === 0;
        uncertainty.push({x: a.band.x, y: a.band.lo, mode: "lines", line: {width: 0}, showlegend: false,
                          legendgroup: "uncertainty", name: `${a.arm}: 2.5 %`, hoverinfo: "skip",
                          meta: "band-lo"});
        uncertainty.push({x: a.band.x, y: a.band.hi, mode: "lines", line: {width: 0}, fill: "tonexty",
                          fillcolor: colour, legendgroup: "uncertainty", showlegend: first, legendrank: 1001,
                          name: nephrosim.wrap(data.band_legend, BAND_LEGEND_WIDTH), meta: "band-hi",
                          customdata: a.band.lo,
                          text: a.band.median.map((m) => `median ${m === null ? "—" : m.toPrecision(4)}`),
                          hovertemplate: `${a.arm}: band %{customdata:.4g}–%{y:.4g} ${panel.unit}, %{text}` +
                                         "<extra></extra>"});
        uncertainty.push({x: a.band.x, y: a.band.median, mode: "lines", showlegend: false,
                          legendgroup: "uncertainty", name: `${a.arm}: band median`, hoverinfo: "skip",
                          line: {color: lineColour, width: 1.2, dash: "dot"}, meta: "band-median"});
      });
      // literature data points of the evidence store (hover: the study, its design and the quote); the
      // label's lines are wrapped to HOVER_WIDTH characters so that it fits inside a panel (a wider label
      // is cut at the panel's edge)
      const HOVER_WIDTH = 46;
      const literature = [];
      [["untreated", "circle-open", "#222"], ["treated", "diamond", "#7a1fa2"]].forEach(([role, symbol, colour]) => {
        const pts = panel.points.filter((p) => p.role === role);
        if (!pts.length) return;
        const studies = new Set(pts.map((p) => p.study_id)).size;
        const t = {x: pts.map((p) => p.x), y: pts.map((p) => p.value), mode: "markers", meta: "literature",
                   legendrank: 1002,
                   name: `literature, ${role}: ${pts.length} value(s), ${studies} stud${studies === 1 ? "y" : "ies"}`,
                   marker: {symbol, size: 9, color: colour, line: {width: 1.5, color: colour}},
                   customdata: pts.map((p) => p.study_id), hoverinfo: "text", hoverlabel: {align: "left"},
                   text: pts.map((p) => [
                     `<b>${nephrosim.escape(p.study_id)}</b>${p.pmid ? " (PMID " + nephrosim.escape(p.pmid) + ")" : ""}`,
                     nephrosim.wrap(`${nephrosim.escape(p.arm)}${p.treatment ? ": " + nephrosim.escape(p.treatment) : ""}`,
                                    HOVER_WIDTH),
                     nephrosim.wrap(`${p.value.toPrecision(4)} ${panel.unit} (reported ${nephrosim.escape(p.reported)})` +
                       (p.dispersion !== null ? ` ± ${p.dispersion.toPrecision(3)} ${p.dispersion_type}` : "") +
                       (p.n !== null ? `, n = ${p.n}` : "") + ` at ${p.time_h} h`, HOVER_WIDTH),
                     nephrosim.wrap(nephrosim.escape(p.injury_details), HOVER_WIDTH),
                     nephrosim.wrap([p.strain && "strain: " + nephrosim.escape(p.strain),
                                     p.sex && "sex: " + nephrosim.escape(p.sex),
                                     p.temperature && "clamp temperature: " + nephrosim.escape(p.temperature)]
                       .filter(Boolean).join("; "), HOVER_WIDTH),
                     p.co_intervention ? nephrosim.wrap("co-intervention: " + nephrosim.escape(p.co_intervention),
                                                        HOVER_WIDTH) : "",
                     p.quote ? nephrosim.wrap("“" + nephrosim.escape(p.quote) + "”", HOVER_WIDTH)
                             : "(no source quote in the evidence store)",
                   ].filter((line) => line).join("<br>"))};
        if (pts.some((p) => p.dispersion !== null)) {
          t.error_y = {type: "data", array: pts.map((p) => (p.dispersion === null ? 0 : p.dispersion)),
                       visible: true, color: colour, thickness: 1, width: 3};
        }
        literature.push(t);
      });
      const traces = uncertainty.concat(lines, bands, literature);
      // doses: a dotted vertical line at each dose time (hover names the arms)
      const shapes = [], labels = [];
      Object.entries(data.doses).forEach(([t, arms]) => {
        shapes.push({type: "line", xref: "x", yref: "paper", x0: Number(t), x1: Number(t), y0: 0, y1: 1,
                     line: {color: "rgba(60,60,60,0.55)", width: 1, dash: "dot"}});
        labels.push(`dose at ${Number(t)} ${data.time_unit}: ${arms.join(", ")}`);
      });
      if (labels.length) {
        traces.push({x: Object.keys(data.doses).map(Number), y: Object.keys(data.doses).map(() => 0), yaxis: "y",
                     mode: "markers", name: "dose", marker: {symbol: "triangle-up", size: 9, color: "#444"},
                     text: labels, hoverinfo: "text", cliponaxis: false});
      }
      // the legend sits at the bottom of the figure, below the axis title, with room for every entry
      // (the band's and the literature's entries are long: each takes whole rows)
      const bandRows = uncertainty.length ? nephrosim.wrap(data.band_legend, BAND_LEGEND_WIDTH).split("<br>").length : 0;
      const bottom = 64 + 21 * Math.ceil((panel.arms.length + (labels.length ? 1 : 0)) / 2) + 21 * literature.length +
        16 * bandRows + (bandRows ? 8 : 0);
      const layout = {
        title: {text: nephrosim.wrap(panel.description, 52), font: {size: 13}},
        xaxis: {title: {text: `time after insult [${data.time_unit}]`}, type: "linear"},
        yaxis: {title: {text: `${panel.readout} [${panel.unit}]`}, rangemode: "tozero"},
        shapes, margin: {t: 56, r: 10, b: bottom, l: 64}, height: 290 + bottom,
        legend: {orientation: "h", x: 0, y: 0, yref: "container", yanchor: "bottom"}, showlegend: true,
      };
      Plotly.newPlot(div, traces, layout, {responsive: true, displaylogo: false});
      charts.push(div);
    });
    // a log axis spans the positive times only (t = 0 has no logarithm)
    let low = Infinity, high = 0;
    data.panels.forEach((p) => p.arms.forEach((a) => a.x.forEach((t) => {
      if (t > 0) { low = Math.min(low, t); high = Math.max(high, t); }
    })));
    const logRange = [Math.log10(low), Math.log10(high)];
    const pad = 0.03 * (logRange[1] - logRange[0] || 1);
    document.querySelectorAll("input[name=timeaxis]").forEach((radio) => {
      radio.addEventListener("change", () => {
        const update = radio.value === "log"
          ? {"xaxis.type": "log", "xaxis.autorange": false, "xaxis.range": [logRange[0] - pad, logRange[1] + pad]}
          : {"xaxis.type": "linear", "xaxis.autorange": true};
        charts.forEach((div) => Plotly.relayout(div, update));
      });
    });
    box.dataset.ready = "1";
  },
};
document.addEventListener("DOMContentLoaded", () => nephrosim.builder());
