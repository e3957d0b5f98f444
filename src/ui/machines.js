// /machines: every agent, when it was last heard from, and what it runs of
// each project against what it was told to run. Re-read on any live event
// (at most twice a second) and every 5 s: an agent's last-seen age moves on
// without any event.
import {
  connectEvents, el, formatExact, getJson, notice, oneAtATime, refreshRelativeTimes, relativeTime,
  shortSha, statusBadge,
} from "/ui/common.js";

const SILENT_AFTER_MS = 60000;  // an agent long-polls every 30 s at most: twice that is silence
const tbody = document.querySelector("#machines tbody");
const rows = new Map();  // machine name -> { tr, key }: a row is redrawn only when it changed

// online, silent, never_seen or revoked (statusBadge shows "_" as a space).
function machineState(m, now) {
  if (m.revoked_at) return "revoked";
  if (!m.last_seen_at) return "never_seen";
  return now - Date.parse(m.last_seen_at) > SILENT_AFTER_MS ? "silent" : "online";
}

// Whether the machine runs what it was told to: converged, converging (to
// desired_version) or idle (nothing desired of it).
function convergence(p) {
  if (!p.desired_version) return "idle";
  return p.version === p.desired_version ? "converged" : "converging";
}

function projectItem(p) {
  const state = convergence(p);
  const li = el("li", { "data-project": p.project, "data-health": p.health || null,
                        "data-converged": String(state !== "converging") });
  li.append(el("strong", { class: "project-name" }, p.project), " ");
  if (p.version) {
    li.append(el("code", { class: "version", title: p.commit || null }, p.version), " ");
  } else {
    li.append(el("span", { class: "muted" }, p.reported_at ? "nothing running" : "not reported yet"), " ");
  }
  if (p.health) li.append(statusBadge(p.health), " ");
  if (state === "converged") {
    li.append(el("span", { class: "badge s-converged", "data-status": "converged",
                           title: `runs ${p.desired_version}, as desired` }, "converged"));
  } else if (state === "converging") {
    li.append(el("span", { class: "badge s-converging", "data-status": "converging",
                           title: p.desired_release ? `release ${p.desired_release}` : null },
                 "converging to ", el("code", {}, p.desired_version)));
  } else {
    li.append(el("span", { class: "muted" }, "nothing desired"));
  }
  // pid, when it started, when the agent last said so: each part only when known.
  const parts = [];
  if (p.pid) parts.push([`pid ${p.pid}`]);
  if (p.since) parts.push(["started ", relativeTime(p.since)]);
  if (p.reported_at) parts.push(["reported ", relativeTime(p.reported_at)]);
  if (parts.length) {
    li.append(el("div", { class: "muted small" }, ...parts.flatMap((part, i) => (i ? [", ", ...part] : part))));
  }
  const run = p.last_run;
  if (run && run.status === "failed") {
    li.append(el("div", { class: "error" },
                  run.deployment ? el("a", { href: `/deployments/${run.deployment}` }, `Deployment #${run.deployment}`)
                                 : "The last run",
                  ` failed here: ${run.error || "no reason given"}`));
  } else if (run && run.status === "switching") {
    const link = run.deployment ? el("a", { href: `/deployments/${run.deployment}` }, `#${run.deployment}`) : null;
    li.append(el("div", { class: "muted small" }, "switching now", ...(link ? [" (", link, ")"] : [])));
  }
  return li;
}

function renderRow(m, state) {
  const tr = el("tr", { id: `machine-${m.name}`, "data-machine": m.name, "data-state": state });
  const stateCell = el("td", { "data-label": "State" }, statusBadge(state));
  if (m.revoked_at) stateCell.append(el("div", { class: "muted small" }, "revoked ", relativeTime(m.revoked_at)));
  const labels = (m.labels || []).length
    ? el("td", { "data-label": "Labels" }, ...m.labels.map((l) => el("code", { class: "label" }, l)))
    : el("td", { "data-label": "Labels" }, el("span", { class: "muted" }, "none"));
  const seen = el("td", { class: "num", "data-label": "Last seen" });
  if (m.last_seen_at) {
    seen.append(relativeTime(m.last_seen_at));
    if (state === "silent") seen.append(" ", el("span", { class: "flag" }, "silent"));
  } else {
    seen.append(el("span", { class: "muted", title: `added ${formatExact(m.created_at)}` }, "never"));
  }
  const projects = el("td", { "data-label": "Projects" });
  if ((m.projects || []).length) {
    projects.append(el("ul", { class: "machine-projects" }, ...m.projects.map(projectItem)));
  } else {
    projects.append(el("span", { class: "muted" }, "none assigned"));
  }
  tr.append(el("th", { scope: "row" }, m.name,
                m.generation ? el("div", { class: "muted small", title: "generation of its desired state" },
                                  `gen ${m.generation}`) : null),
            stateCell, labels, seen, projects);
  return tr;
}

function showEmpty(...content) {
  rows.clear();
  tbody.replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "empty" }, ...content)));
}

function summarize(machines, states) {
  const counts = {};
  for (const s of states) counts[s] = (counts[s] || 0) + 1;
  const parts = ["online", "silent", "never_seen", "revoked"]
    .filter((s) => counts[s]).map((s) => `${counts[s]} ${s.replace("_", " ")}`);
  const converging = machines.flatMap((m) => m.projects || [])
    .filter((p) => convergence(p) === "converging").length;
  const failing = machines.flatMap((m) => m.projects || [])
    .filter((p) => p.last_run && p.last_run.status === "failed").length;
  let text = `${machines.length} machine${machines.length === 1 ? "" : "s"}: ${parts.join(", ")}`;
  if (converging) text += ` · ${converging} converging`;
  if (failing) text += ` · ${failing} failed on the last run`;
  const box = document.getElementById("summary");
  if (box.textContent !== text) box.textContent = text;
}

// The focused link, found again in a redrawn row by its address.
function focusedLink() {
  const active = document.activeElement;
  const tr = active && tbody.contains(active) ? active.closest("tr[data-machine]") : null;
  return tr && active.getAttribute("href") ? { machine: tr.dataset.machine, href: active.getAttribute("href") } : null;
}

function restoreFocus(focus) {
  if (!focus || tbody.contains(document.activeElement)) return;
  rows.get(focus.machine)?.tr.querySelector(`a[href="${CSS.escape(focus.href)}"]`)?.focus();
}

function show(machines) {
  const now = Date.now();
  const states = machines.map((m) => machineState(m, now));
  if (machines.length === 0) {
    document.getElementById("summary").textContent = "";
    showEmpty("No agents yet: ", el("code", {}, "anthill agents add NAME"),
              " on the orchestrator issues a token; see README, A fleet.");
    return;
  }
  const focus = focusedLink();
  const order = [];
  const seen = new Set();
  machines.forEach((m, i) => {
    const key = JSON.stringify(m) + states[i];
    const known = rows.get(m.name);
    if (known && known.key === key) {
      order.push(known.tr);
    } else {
      const tr = renderRow(m, states[i]);
      if (known) known.tr.replaceWith(tr);
      rows.set(m.name, { tr, key });
      order.push(tr);
    }
    seen.add(m.name);
  });
  for (const name of [...rows.keys()]) if (!seen.has(name)) rows.delete(name);
  // Moving rows would take the focus away: only when the set or order changed.
  const same = tbody.children.length === order.length && order.every((tr, i) => tbody.children[i] === tr);
  if (!same) tbody.replaceChildren(...order);
  restoreFocus(focus);
  refreshRelativeTimes(tbody);
  summarize(machines, states);
  revealLinkedRow();
}

// An address naming a machine's row (/machines#machine-web-3, where a
// rollout's cells link) finds nothing when the browser looks for it: the
// rows are drawn once the API has answered. The row is brought into view
// here, on the first drawing with rows only (never under a reader who has
// scrolled since).
let linkedRowPending = location.hash.length > 1;
function revealLinkedRow() {
  if (!linkedRowPending) return;
  linkedRowPending = false;
  let id;
  try {
    id = decodeURIComponent(location.hash.slice(1));
  } catch {
    return;  // a malformed address names no row
  }
  const tr = document.getElementById(id);
  if (tr && tbody.contains(tr)) tr.scrollIntoView({ block: "start" });
}

// One load at a time; one more after it if asked meanwhile.
const load = oneAtATime(async () => {
  try {
    const { machines } = await getJson("/api/v1/machines");
    show(machines || []);
    notice("");
  } catch (e) {
    if (!rows.size) showEmpty("Could not load the machines.");
    notice(`Could not load the machines: ${e.message}`);
  }
});

// Throttled, not debounced: a rollout's stream of events still redraws the
// page twice a second instead of waiting for it to go quiet.
let timer = null;
function loadSoon() {
  if (timer) return;
  timer = setTimeout(() => {
    timer = null;
    load();
  }, 500);
}

async function main() {
  // An agent's report of its state (health, pid) sends no event of its own:
  // deployments' events and the 5 s timer below bring it.
  await connectEvents({
    deployment: loadSoon,
    project: loadSoon,
    reopen: loadSoon,
  });
  await load();
  setInterval(() => {
    if (!document.hidden) load();
  }, 5000);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) loadSoon();
  });
}

main();
