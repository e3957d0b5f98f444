// /deployments/{id}: the facts, an SVG Gantt chart of the steps, the steps'
// table, and the build/test log, which follows the file while it grows.
// A rollout over agents (the deployment has `machines`) also shows its
// batches x machines, and its steps grouped by the machine that did them.
import {
  connectEvents, el, elapsedMs, formatDuration, formatExact, getJson, isFinished, isOlderState, notice,
  refreshRelativeTimes, relativeTime, shortSha, statusBadge,
} from "/ui/common.js";

const SVG = "http://www.w3.org/2000/svg";
const id = Number(location.pathname.split("/").pop());
let current = null;     // the deployment as last read
let logOffset = 0;
let logBusy = false;
// The log arrives in byte ranges: a UTF-8 character may be split between two
// of them, so one streaming decoder reads them all.
const logDecoder = new TextDecoder();

// A rollout over agents: the API lists each machine's part.
function isFleet(d) {
  return Array.isArray(d.machines) && d.machines.length > 0;
}

// A step's name, with the machine that did it when that is an agent's.
function stepLabel(d, s) {
  return isFleet(d) && s.machine && s.machine !== d.machine ? `${s.machine} · ${s.name}` : s.name;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

// Round steps for the time axis, in ms: 1-2-2.5-5 below a second, then
// steps a clock reader expects (15 s, 30 s, 1 min, 5 min, 15 min, 1 h...).
const TICK_STEPS = [
  1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500,
  1000, 2000, 2500, 5000, 10000, 15000, 20000, 30000,
  60000, 120000, 180000, 300000, 600000, 900000, 1200000, 1800000,
  3600000, 7200000, 10800000, 21600000,
];

// The round step whose tick count (0 included) is closest to `want` (4..6),
// among those giving 4 to 6 ticks when any does.
function tickStep(total, want) {
  const count = (step) => Math.floor(total / step) + 1;
  const fits = TICK_STEPS.filter((step) => count(step) >= 4 && count(step) <= 6);
  const pool = fits.length ? fits : TICK_STEPS;
  return pool.reduce((best, step) =>
    Math.abs(count(step) - want) < Math.abs(count(best) - want) ? step : best);
}

// Axis labels are short ("0", "2.5 s", "1 min", "1 min 30 s", "1 h 30 min"):
// they sit side by side on a phone.
function tickLabel(ms) {
  if (ms === 0) return "0";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${+(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
  const m = Math.round(s / 60);
  return m % 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m / 60} h`;
}

function drawTimeline(d) {
  const chart = document.getElementById("timeline");
  const now = Date.now();
  const start = Date.parse(d.started_at);
  const end = isFinished(d) ? Date.parse(d.finished_at)
                            : Math.max(now, ...d.steps.map((s) => Date.parse(s.started_at)));
  const total = Math.max(end - start, 1);
  // Drawn at the width it is shown at, so the labels keep their size on a phone.
  const width = Math.max(Math.round(chart.getBoundingClientRect().width) || 900, 300);
  let left = width < 500 ? 86 : 110;
  const right = 16, top = 24, row = 24, barHeight = 14;
  // A fleet's labels name the machine too: a wider margin, up to 40% of the chart.
  const labels = d.steps.map((s) => stepLabel(d, s));
  if (isFleet(d)) {
    const longest = Math.max(0, ...labels.map((l) => l.length));
    left = Math.round(Math.min(Math.max(left, longest * 7 + 14), width * 0.4));
  }
  const maxChars = Math.floor((left - 14) / 7);
  const fit = (label) => (label.length > maxChars ? `${label.slice(0, maxChars - 1)}…` : label);
  const height = top + Math.max(d.steps.length, 1) * row + 8;
  const x = (t) => left + ((t - start) / total) * (width - left - right);
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  chart.setAttribute("aria-label",
                     `Timeline of ${d.steps.length} steps over ${formatDuration(total)}`);
  const children = [];
  const axis = svg("g", { class: "axis" });
  // About one tick per 80 px of plot, 4 to 6 of them.
  const want = Math.max(4, Math.min(6, Math.round((width - left - right) / 80)));
  const step = tickStep(total, want);
  for (let t = 0; t <= total + 1; t += step) {
    axis.append(svg("line", { x1: x(start + t), x2: x(start + t), y1: top - 6, y2: height - 4 }));
    // A label near the right edge ends at its tick instead of spilling over.
    const nearEnd = x(start + t) > width - right - 30;
    axis.append(svg("text", { x: x(start + t), y: 12, "text-anchor": nearEnd ? "end" : "middle" },
                    tickLabel(t)));
  }
  children.push(axis);
  d.steps.forEach((s, i) => {
    const y = top + i * row;
    const s0 = Date.parse(s.started_at);
    const s1 = s.finished_at ? Date.parse(s.finished_at) : now;
    children.push(svg("text", { class: "label", x: left - 8, y: y + barHeight - 2, "text-anchor": "end" },
                      isFleet(d) ? fit(labels[i]) : s.name));
    const bar = svg("rect", {
      class: "bar", "data-step": s.name, "data-status": s.status,
      x: x(s0), y, height: barHeight, rx: 2,
      width: Math.max(x(s1) - x(s0), 2),
    });
    if (isFleet(d) && s.machine) bar.setAttribute("data-machine", s.machine);
    bar.append(svg("title", {}, `${labels[i]}: ${s.status}, ${formatDuration(elapsedMs(s, now))}` +
                                (s.error ? ` (${s.error})` : "")));
    children.push(bar);
  });
  if (d.steps.length === 0) {
    children.push(svg("text", { x: left, y: top + 12 }, "No steps yet"));
  }
  chart.replaceChildren(...children);
}

// One row of the steps' table; data-label names each cell where a narrow
// screen stacks the row.
function stepRow(s, machine) {
  return el("tr", { "data-step": s.name, "data-status": s.status, "data-machine": machine },
    el("th", { scope: "row" }, s.name),
    el("td", { "data-label": "Status" }, statusBadge(s.status)),
    el("td", { "data-label": "Started" }, el("time", { datetime: s.started_at }, formatExact(s.started_at))),
    el("td", { "data-label": "Ended" },
       s.finished_at ? el("time", { datetime: s.finished_at }, formatExact(s.finished_at)) : "—"),
    el("td", { class: "num", "data-label": "Duration" },
       s.finished_at ? formatDuration(s.duration_ms) : "running"),
    el("td", { class: "error", "data-label": s.error ? "Error" : null }, s.error || ""));
}

function drawSteps(d) {
  const table = document.getElementById("steps");
  if (isFleet(d)) {
    drawStepGroups(d, table);
    return;
  }
  const [tbody, ...extra] = table.tBodies;
  for (const b of extra) b.remove();
  tbody.replaceChildren(...d.steps.map((s) => stepRow(s, null)));
  if (d.steps.length === 0) {
    tbody.append(el("tr", {}, el("td", { colspan: 6, class: "empty" }, "No steps yet.")));
  }
}

const BUILDER_STEPS = new Set(["fetch", "build", "test", "release", "upload"]);

// Rollout order: batch 1, 2, ..., then the machines not in a batch yet.
function rolloutOrder(machines) {
  const rank = (m) => (m.batch > 0 ? m.batch : Number.MAX_SAFE_INTEGER);
  return machines.map((m, i) => ({ m, i }))
    .sort((a, b) => rank(a.m) - rank(b.m) || a.i - b.i)
    .map(({ m }) => m);
}

// The steps of a fleet deployment, one <tbody> per machine that did some:
// the deployment's own machine (the orchestrator) first, then the other
// machines that are not agents of the rollout (builders), then the agents in
// rollout order.
function drawStepGroups(d, table) {
  const byMachine = new Map();
  for (const s of d.steps) {
    const machine = s.machine || d.machine;
    if (!byMachine.has(machine)) byMachine.set(machine, []);
    byMachine.get(machine).push(s);
  }
  const agents = new Map(d.machines.map((m) => [m.machine, m]));
  const names = [
    ...(byMachine.has(d.machine) ? [d.machine] : []),
    ...[...byMachine.keys()].filter((n) => n !== d.machine && !agents.has(n)),
    ...rolloutOrder(d.machines).map((m) => m.machine).filter((n) => n !== d.machine && byMachine.has(n)),
  ];
  const role = (name) => {
    if (name === d.machine) return "orchestrator";
    const agent = agents.get(name);
    if (agent) return agent.batch > 0 ? `agent, batch ${agent.batch}` : "agent";
    return byMachine.get(name).every((s) => BUILDER_STEPS.has(s.name)) ? "builder" : "";
  };
  const bodies = names.map((name) => el("tbody", { "data-machine": name },
    el("tr", { class: "group" },
       el("th", { scope: "rowgroup", colspan: 6 }, name,
          role(name) ? el("span", { class: "muted" }, ` · ${role(name)}`) : null)),
    ...byMachine.get(name).map((s) => stepRow(s, name))));
  if (bodies.length === 0) {
    bodies.push(el("tbody", {}, el("tr", {}, el("td", { colspan: 6, class: "empty" }, "No steps yet."))));
  }
  for (const b of [...table.tBodies]) b.remove();
  table.append(...bodies);
}

// The rollout as batches x machines: each cell says its status in words; a
// failure's error is in the cell, every cell's details in its title.
const ROLLOUT_FAILURES = new Set(["failed", "lost", "rolled back"]);
let rolloutKey = "";

function rolloutCell(m) {
  const word = m.status || "waiting";
  const versions = m.to_version
    ? `${m.from_version || "nothing"} → ${m.to_version}` : "";
  const title = [
    `${m.machine}: ${word}`,
    versions,
    m.started_at ? `started ${formatExact(m.started_at)}` : "",
    m.finished_at ? `finished ${formatExact(m.finished_at)}` : "",
    m.to_release ? `release ${m.to_release}` : "",
    m.error,
  ].filter(Boolean).join("\n");
  const cell = el("li", { class: "cell", "data-machine": m.machine, "data-status": word,
                          "data-batch": m.batch, title });
  cell.append(el("a", { class: "name", href: `/machines#machine-${encodeURIComponent(m.machine)}` }, m.machine),
              statusBadge(word.replaceAll(" ", "_")));
  if (m.to_version) {
    cell.append(el("div", { class: "muted small versions" },
                   m.from_version ? el("code", {}, m.from_version) : "—",
                   el("span", { class: "arrow", "aria-label": "to" }, "→"), el("code", {}, m.to_version)));
  }
  if (m.error && word === "rolled back") {
    // The machine whose failure rolled the others back: its badge says what
    // it runs now, like theirs; this says it is the one that failed.
    cell.dataset.failedHere = "true";
    cell.append(el("div", { class: "error failed-here" }, "failed here"));
  }
  if (m.error) {
    cell.append(el("div", { class: ROLLOUT_FAILURES.has(word) ? "error reason" : "muted small reason" },
                   m.error));
  }
  return cell;
}

// "2 succeeded, 1 switching", in the order the statuses first appear.
function countStatuses(machines) {
  const counts = new Map();
  for (const m of machines) {
    const word = m.status || "waiting";
    counts.set(word, (counts.get(word) || 0) + 1);
  }
  return [...counts].map(([word, n]) => `${n} ${word}`).join(", ");
}

function drawRollout(d) {
  const section = document.getElementById("rollout-section");
  if (!isFleet(d)) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  const key = JSON.stringify(d.machines);
  if (key === rolloutKey) return;  // unchanged: keep the cells (and a hovered title)
  rolloutKey = key;
  const batches = new Map();
  for (const m of rolloutOrder(d.machines)) {
    const b = m.batch > 0 ? m.batch : 0;
    if (!batches.has(b)) batches.set(b, []);
    batches.get(b).push(m);
  }
  const numbered = [...batches.keys()].filter((b) => b > 0).length;
  const rows = [...batches].map(([b, machines]) => {
    const name = b > 0 ? `Batch ${b}` : "Not in a batch yet";
    return el("li", { class: "batch", "data-batch": b },
      el("div", { class: "batch-head" }, el("strong", {}, name),
         el("span", { class: "muted" }, countStatuses(machines))),
      el("ul", { class: "cells", "aria-label": name }, ...machines.map(rolloutCell)));
  });
  document.getElementById("rollout").replaceChildren(...rows);
  const n = d.machines.length;
  document.getElementById("rollout-summary").textContent =
    `${n} machine${n === 1 ? "" : "s"}` +
    (numbered ? ` in ${numbered} batch${numbered === 1 ? "" : "es"}` : "") +
    `: ${countStatuses(d.machines)}`;
}

function fact(dl, term, ...value) {
  dl.append(el("dt", {}, term), el("dd", {}, ...value));
}

function drawFacts(d) {
  document.title = `#${d.id} ${d.project} · Anthill`;
  const title = document.getElementById("title");
  title.replaceChildren(`#${d.id} `, el("span", {}, d.project), " ", statusBadge(d.status));
  const dl = document.getElementById("facts");
  dl.replaceChildren();
  fact(dl, "Version", d.from_version ? el("code", {}, d.from_version) : el("span", { class: "muted" }, "— (first)"),
       el("span", { class: "arrow" }, "→"), el("code", {}, d.to_version));
  fact(dl, "Commit", el("code", { title: d.to_commit }, d.to_commit),
       d.from_commit ? el("span", { class: "muted" }, ` (from ${shortSha(d.from_commit)})`) : null);
  fact(dl, "Ref", el("code", {}, d.ref));
  fact(dl, "Trigger", `${d.trigger} · `, el("span", { class: "actor" }, d.actor));
  fact(dl, isFleet(d) ? "Orchestrator" : "Machine", d.machine);
  fact(dl, "Started", relativeTime(d.started_at), el("span", { class: "muted" }, ` (${formatExact(d.started_at)})`));
  fact(dl, "Duration", isFinished(d) ? formatDuration(d.duration_ms) : `running for ${formatDuration(elapsedMs(d))}`);
  if (d.release) fact(dl, "Release", el("code", {}, d.release));
  if (d.error) fact(dl, "Error", el("span", { class: "error" }, d.error));
}

function drawNeighbours(d) {
  const slot = (name, targetId, text) => {
    const holder = document.getElementById(`${name}-slot`);
    holder.replaceChildren(targetId
      ? el("a", { id: name, href: `/deployments/${targetId}` }, text)
      : el("span", { class: "muted", "aria-disabled": "true" }, text));
  };
  slot("previous", d.previous_id, "← Previous");
  slot("next", d.next_id, "Next →");
  document.getElementById("project-link").href = `/deployments?project=${encodeURIComponent(d.project)}`;
  document.getElementById("project-link").textContent = `All deployments of ${d.project}`;
}

function draw(d) {
  current = { ...current, ...d };
  drawFacts(current);
  drawRollout(current);
  drawTimeline(current);
  drawSteps(current);
}

// Appends what the log gained since the last read.
async function followLog() {
  if (logBusy) return;
  logBusy = true;
  try {
    const res = await fetch(`/api/v1/deployments/${id}/log?offset=${logOffset}`);
    if (res.ok) {
      const bytes = new Uint8Array(await res.arrayBuffer());
      const sizeHeader = res.headers.get("X-Log-Size");  // the file's size now
      const size = sizeHeader === null ? logOffset + bytes.length : Number(sizeHeader);
      const pre = document.getElementById("log");
      if (size < logOffset) {  // the file was started over: so does the page
        pre.textContent = "";
        logOffset = 0;
        return;
      }
      const text = logDecoder.decode(bytes, { stream: true });
      // Follow the end only for a reader who is already there.
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      if (pre.dataset.empty) {
        pre.textContent = "";
        delete pre.dataset.empty;
      }
      if (text) pre.append(text);
      if (atBottom) pre.scrollTop = pre.scrollHeight;
      logOffset = size;
      if (!pre.textContent && isFinished(current)) {
        pre.textContent = "(no build or test output)";
        pre.dataset.empty = "1";
      }
    }
  } catch {
    // the next tick tries again
  } finally {
    logBusy = false;
  }
}

// Shows d; when it has just ended, reads the log's last lines.
function show(d) {
  const wasRunning = current && !isFinished(current);
  draw(d);
  if (wasRunning && isFinished(d)) followLog();
}

// Reads the deployment from the API and shows it; false when that failed.
async function refresh() {
  try {
    show(await getJson(`/api/v1/deployments/${id}`));
    drawNeighbours(current);
    return true;
  } catch (e) {
    if (current) return false;  // shown already: keep it, the next try may work
    document.getElementById("title").textContent = `No deployment ${id}`;
    document.getElementById("detail").hidden = true;  // nothing to fill it with
    notice(e.status === 404 ? `No deployment ${id}. See all deployments at /deployments.`
                            : `Could not load deployment ${id}: ${e.message}`);
    document.querySelector("main").append(el("p", {}, el("a", { href: "/deployments" }, "All deployments")));
    return false;
  }
}

function onDeployment(d) {
  if (current && d.project === current.project && d.id > id &&
      (!current.next_id || d.id < current.next_id)) {
    current.next_id = d.id;  // the project moved on: link the next one
    drawNeighbours(current);
  }
  if (d.id !== id || (current && isOlderState(d, current))) return;
  show(d);
  // An event may not carry the machines' part of a rollout: read it.
  if ("machines" in current && !("machines" in d)) refreshSoon();
}

// At most one re-read per 300 ms, however many events a rollout sends.
let refreshTimer = null;
function refreshSoon() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refresh();
  }, 300);
}

async function main() {
  if (!Number.isInteger(id) || id <= 0) {
    document.getElementById("title").textContent = "No such deployment";
    document.getElementById("detail").hidden = true;
    notice("No such deployment: its address is /deployments/<number>.");
    return;
  }
  await connectEvents({
    deployment: onDeployment,
    reopen: refresh,  // it may have moved on while the stream was down
  });
  if (!(await refresh())) return;
  await followLog();
  // While it runs: the log every second, the running bar grows every 500 ms.
  // Without the stream, the deployment itself is re-read every 3 s instead;
  // a rollout's is re-read every 2 s anyway: an agent that goes silent or a
  // batch that has stayed healthy long enough sends no event of its own.
  let ticks = 0;
  setInterval(() => {
    if (!current || isFinished(current)) return;
    followLog();
    ticks += 1;
    if (document.documentElement.dataset.live !== "open" && ticks % 3 === 0) refresh();
    else if ("machines" in current && ticks % 2 === 0) refreshSoon();
  }, 1000);
  setInterval(() => {
    if (current && !isFinished(current)) drawTimeline(current);
  }, 500);
  setInterval(() => refreshRelativeTimes(), 10000);
  window.addEventListener("resize", () => current && drawTimeline(current));
}

main();
