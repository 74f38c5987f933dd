// The dashboard page: renders the snapshot the server pushes (no framework, no network but
// this server). Everything shown is text set with textContent, never parsed as HTML: the
// snapshot carries strings that came from the network.
"use strict";

const COLORS = ["#4fb3ff", "#ffb454", "#6fd08c", "#ff7b72", "#c792ea", "#f07178", "#89ddff", "#e6c07b"];
let latest = null;

function short(key) { return key ? key.slice(0, 10) + "…" : ""; }
function fmt(v, d) { return v === null || v === undefined ? "" : Number(v).toFixed(d); }
function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === undefined || text === null ? "" : String(text);
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}
function fill(tbody, rows, make) {
  tbody.replaceChildren();
  for (const r of rows) tbody.appendChild(make(r));
}

function renderNeurons(s) {
  fill(document.querySelector("#neurons tbody"), s.neurons, (n) => {
    const tr = document.createElement("tr");
    tr.dataset.neuron = n.name;
    cell(tr, n.name + (n.neuron_key ? " " + short(n.neuron_key) : ""), "key");
    cell(tr, n.uid, "uid");
    cell(tr, n.role || "", "role");
    cell(tr, n.up ? "up" : (n.error ? "down" : "…"), n.up ? "up" : "down").title = n.error || "";
    cell(tr, n.epoch);
    cell(tr, n.step);
    cell(tr, fmt(n.steps_per_second, 1));
    cell(tr, fmt(n.local_loss, 4));
    cell(tr, fmt(n.network_loss, 4));
    cell(tr, n.accuracy === null || n.accuracy === undefined ? "" : (100 * n.accuracy).toFixed(2) + "%");
    cell(tr, n.peers_known === null || n.peers_known === undefined ? "" : n.peers_known + "|" + n.synapses_known);
    cell(tr, n.metrics_addr);
    cell(tr, n.metagraph || "");
    return tr;
  });
}

// A line chart of several series on one canvas: x and y scaled to the data.
function chart(canvas, series, yFormat) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 36;
  ctx.clearRect(0, 0, w, h);
  let xs = [], ys = [], points = 0;
  for (const s of series) for (const p of s.points) { xs.push(p[0]); ys.push(p[1]); points++; }
  canvas.dataset.points = String(points);
  ctx.strokeStyle = "#2a333d"; ctx.fillStyle = "#7d8a99"; ctx.font = "11px sans-serif";
  ctx.strokeRect(pad, 8, w - pad - 8, h - pad - 8);
  if (points === 0) { ctx.fillText("no points yet", pad + 8, 28); return; }
  let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y1 = y0 + 1e-3; y0 = y0 - 1e-3; }
  const X = (x) => pad + (x - x0) / (x1 - x0) * (w - pad - 8);
  const Y = (y) => 8 + (1 - (y - y0) / (y1 - y0)) * (h - pad - 8);
  ctx.fillText(yFormat(y1), 2, 16); ctx.fillText(yFormat(y0), 2, h - pad);
  ctx.fillText(String(x0), pad, h - pad + 14); ctx.fillText(String(x1), w - 60, h - pad + 14);
  series.forEach((s, i) => {
    ctx.strokeStyle = s.color || COLORS[i % COLORS.length]; ctx.lineWidth = 1.5; ctx.beginPath();
    s.points.forEach((p, j) => { j === 0 ? ctx.moveTo(X(p[0]), Y(p[1])) : ctx.lineTo(X(p[0]), Y(p[1])); });
    ctx.stroke();
    if (s.points.length === 1) { ctx.fillStyle = ctx.strokeStyle; ctx.fillRect(X(s.points[0][0]) - 2, Y(s.points[0][1]) - 2, 4, 4); }
  });
}

function renderCurves(s) {
  chart(document.getElementById("loss"), s.neurons.map((n, i) => ({ points: n.loss_curve, color: COLORS[i % COLORS.length] })), (v) => v.toFixed(3));
  chart(document.getElementById("accuracy"), s.neurons.map((n, i) => ({ points: n.accuracy_curve, color: COLORS[i % COLORS.length] })), (v) => (100 * v).toFixed(1) + "%");
  const legend = document.getElementById("loss-legend");
  legend.replaceChildren();
  s.neurons.forEach((n, i) => {
    const span = document.createElement("span");
    span.style.color = COLORS[i % COLORS.length];
    span.textContent = "■ " + n.name;
    legend.appendChild(span);
  });
}

const SVG = "http://www.w3.org/2000/svg";
function renderGraph(s) {
  const svg = document.getElementById("graph");
  svg.replaceChildren();
  const nodes = s.neurons.filter((n) => n.synapse_key);
  const at = new Map();
  const cx = 320, cy = 180, r = Math.min(140, 40 + nodes.length * 12);
  nodes.forEach((n, i) => {
    const a = 2 * Math.PI * i / Math.max(1, nodes.length) - Math.PI / 2;
    at.set(n.synapse_key, { x: cx + r * Math.cos(a), y: cy + r * Math.sin(a), i, n });
  });
  let max = 0;
  for (const n of nodes) for (const p of n.peers) if (p.score) max = Math.max(max, p.score);
  for (const n of nodes) {
    const from = at.get(n.synapse_key);
    for (const p of n.peers) {
      const to = at.get(p.synapse_key);
      if (!to || !p.score || max <= 0) continue;
      const line = document.createElementNS(SVG, "line");
      // Offset both ends a little to the caller's side so A→B and B→A stay apart.
      const dx = to.x - from.x, dy = to.y - from.y, len = Math.hypot(dx, dy) || 1;
      const ox = -dy / len * 4, oy = dx / len * 4;
      line.setAttribute("x1", from.x + ox); line.setAttribute("y1", from.y + oy);
      line.setAttribute("x2", to.x + ox); line.setAttribute("y2", to.y + oy);
      line.setAttribute("stroke", COLORS[from.i % COLORS.length]);
      line.setAttribute("stroke-opacity", "0.8");
      line.setAttribute("stroke-width", String(0.5 + 6 * p.score / max));
      const title = document.createElementNS(SVG, "title");
      title.textContent = n.name + " → " + short(p.synapse_key) + " score " + p.score.toFixed(3);
      line.appendChild(title);
      svg.appendChild(line);
    }
  }
  for (const { x, y, i, n } of at.values()) {
    const c = document.createElementNS(SVG, "circle");
    c.setAttribute("cx", x); c.setAttribute("cy", y); c.setAttribute("r", "14");
    c.setAttribute("fill", COLORS[i % COLORS.length]);
    svg.appendChild(c);
    const t = document.createElementNS(SVG, "text");
    t.setAttribute("x", x); t.setAttribute("y", y + 4); t.setAttribute("text-anchor", "middle");
    t.setAttribute("font-size", "11"); t.setAttribute("fill", "#0f1419");
    t.textContent = n.name;
    svg.appendChild(t);
  }
}

function renderSynapses(s) {
  const select = document.getElementById("viewer");
  const chosen = select.value;
  const names = s.neurons.map((n) => n.name);
  if (select.options.length !== names.length) {
    select.replaceChildren();
    for (const name of names) { const o = document.createElement("option"); o.value = name; o.textContent = name; select.appendChild(o); }
    if (names.includes(chosen)) select.value = chosen;
  }
  const viewer = s.neurons.find((n) => n.name === select.value) || s.neurons[0];
  const seen = new Map((viewer ? viewer.peers : []).map((p) => [p.synapse_key, p]));
  document.getElementById("metagraph-from").textContent = !s.synapses_from ? ""
    : s.synapses.length && s.synapses[0].source === "chain" ? "(axons on the chain at " + s.synapses_from + ")"
    : "(inspected through " + s.synapses_from + ")";
  fill(document.querySelector("#synapses tbody"), s.synapses, (r) => {
    const tr = document.createElement("tr");
    const p = seen.get(r.synapse_key);
    cell(tr, short(r.synapse_key), "key").title = r.synapse_key;
    cell(tr, short(r.neuron_key), "key").title = r.neuron_key;
    cell(tr, r.endpoint);
    cell(tr, r.served_block !== undefined ? "served at block " + r.served_block : (r.age_ms / 1000).toFixed(0) + " s ago");
    cell(tr, r.source);
    cell(tr, p && p.calls > 0 ? (100 * p.answered / p.calls).toFixed(0) + "% of " + p.calls : "");
    cell(tr, p && p.latency_ms !== null && p.latency_ms !== undefined ? p.latency_ms.toFixed(1) + " ms" : "");
    cell(tr, p && p.score !== null && p.score !== undefined ? p.score.toFixed(3) : "");
    return tr;
  });
}

function renderChain(s) {
  const c = s.chain;
  // Without a chain the (empty) chart would only take room.
  document.getElementById("chain-incentive").style.display = c ? "" : "none";
  if (!c) return;
  document.getElementById("chain-title").textContent =
    "(" + c.endpoint + ", subnet " + c.netuid + (c.block !== null ? ", block " + c.block : "") + (c.error ? ", " + c.error : "") + ")";
  const byHotkey = new Map(s.neurons.filter((n) => n.hotkey).map((n) => [n.hotkey, n.name]));
  fill(document.querySelector("#chain tbody"), c.uids, (u) => {
    const tr = document.createElement("tr");
    cell(tr, u.uid); cell(tr, short(u.hotkey), "key").title = u.hotkey;
    cell(tr, (u.stake / 1e9).toFixed(3) + " τ");
    cell(tr, (u.incentive / 65535).toFixed(4)); cell(tr, (u.dividends / 65535).toFixed(4));
    cell(tr, u.emission); cell(tr, (u.trust / 65535).toFixed(4)); cell(tr, (u.consensus / 65535).toFixed(4));
    cell(tr, u.validator_permit ? "yes" : "");
    cell(tr, byHotkey.get(u.hotkey) || "");
    return tr;
  });
  const nameOf = new Map(c.uids.map((u) => [u.uid, byHotkey.get(u.hotkey) || ""]));
  document.getElementById("weights-title").textContent =
    (c.weights_block !== null ? "(read at block " + c.weights_block + ")" : "") + (c.weights_error ? " " + c.weights_error : "");
  fill(document.querySelector("#weights tbody"), c.weights, (w) => {
    const tr = document.createElement("tr");
    cell(tr, w.uid); cell(tr, nameOf.get(w.uid) || ""); cell(tr, w.set_at);
    // Stored max-upscaled: shown as each uid's share of the row, as consensus reads them.
    const sum = w.weights.reduce((a, p) => a + p[1], 0);
    cell(tr, w.weights.map((p) => p[0] + ": " + (sum ? p[1] / sum : 0).toFixed(3)).join("  "), "weights");
    return tr;
  });
  chart(document.getElementById("chain-incentive"), c.history.map((h, i) => ({ points: h.incentive, color: COLORS[i % COLORS.length] })), (v) => v.toFixed(3));
}

function render(s) {
  latest = s;
  renderNeurons(s); renderCurves(s); renderGraph(s); renderSynapses(s); renderChain(s);
  document.getElementById("status").textContent =
    s.neurons.length + " neurons, updated " + new Date(s.updated_ms || Date.now()).toLocaleTimeString();
}

// What a test reads through the DevTools protocol: how many neurons are listed, how many
// points the loss chart has, the chain table's rows and how many epochs its history holds.
window.btDashProbe = function () {
  return {
    rows: document.querySelectorAll("#neurons tbody tr").length,
    // Each neuron's name with the uid and role shown beside it (subnet neurons).
    neurons: Array.from(document.querySelectorAll("#neurons tbody tr")).map((tr) => ({
      name: tr.dataset.neuron, uid: tr.querySelector("td.uid").textContent,
      role: tr.querySelector("td.role").textContent,
    })),
    up: document.querySelectorAll("#neurons tbody td.up").length,
    lossPoints: Number(document.getElementById("loss").dataset.points),
    synapses: document.querySelectorAll("#synapses tbody tr").length,
    chainTitle: document.getElementById("chain-title").textContent,
    // The chain table as shown (the hotkey in full, from its tooltip).
    chainRows: Array.from(document.querySelectorAll("#chain tbody tr")).map((tr) => {
      const td = tr.querySelectorAll("td");
      const text = (i) => (td[i] ? td[i].textContent : "");
      return {
        uid: text(0), hotkey: td[1] ? td[1].title : "", stake: text(2), incentive: text(3),
        dividends: text(4), emission: text(5), trust: text(6), consensus: text(7), permit: text(8),
        neuron: text(9),
      };
    }),
    // The validators' weights as shown: the setter's uid and "uid: share" pairs.
    weightRows: Array.from(document.querySelectorAll("#weights tbody tr")).map((tr) => {
      const td = tr.querySelectorAll("td");
      return { uid: td[0].textContent, neuron: td[1].textContent, setAt: td[2].textContent, weights: td[3].textContent };
    }),
    chainPoints: Number(document.getElementById("chain-incentive").dataset.points),
    // Blocks at which some uid's values changed: a new one each epoch.
    chainBlocks: latest && latest.chain
      ? new Set(latest.chain.history.flatMap((h) => h.stake.concat(h.incentive, h.emission).map((p) => p[0]))).size
      : 0,
  };
};

document.getElementById("viewer").addEventListener("change", () => { if (latest) renderSynapses(latest); });
fetch("/api/state").then((r) => r.json()).then(render).catch(() => {});
const source = new EventSource("/api/events");
source.addEventListener("state", (e) => { try { render(JSON.parse(e.data)); } catch (err) { console.error(err); } });
source.onerror = () => { document.getElementById("status").textContent = "disconnected; retrying…"; };
