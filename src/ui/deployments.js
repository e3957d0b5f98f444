// /deployments: the list, its filters and paging (all in the URL), kept
// live by the event stream.
import {
  STATUSES, connectEvents, el, elapsedMs, formatDuration, getJson, isFinished, isOlderState, notice,
  refreshRelativeTimes, relativeTime, shortSha, statusBadge,
} from "/ui/common.js";

const PAGE_SIZE = 50;
const FILTERS = ["project", "status", "machine"];
const tbody = document.querySelector("#deployments tbody");
const form = document.getElementById("filters");
const rows = new Map();  // deployment id -> { tr: its <tr>, d: the deployment it shows }
// Events that arrive before the first page of the list, or while a page is
// being fetched, wait here and are applied on top of it, so none is lost
// between the stream and the list.
let pending = [];
let generation = 0;      // the latest load; an earlier one that answers late is dropped

// The URL is the state: filters and the page (before= / after=).
function query() {
  return new URLSearchParams(location.search);
}

function filtersOf(params) {
  const f = {};
  for (const k of FILTERS) if (params.get(k)) f[k] = params.get(k);
  return f;
}

function isNewestPage(params) {
  return !params.get("before") && !params.get("after");
}

function matches(d, filters) {
  return FILTERS.every((k) => !filters[k] || d[k] === filters[k]);
}

function link(params) {
  const s = params.toString();
  return "/deployments" + (s ? `?${s}` : "");
}

// The proportional bar of the steps (a running step grows with time).
function stepBar(d) {
  const now = Date.now();
  const total = d.steps.reduce((sum, s) => sum + elapsedMs(s, now), 0) || 1;
  const bar = el("div", { class: "stepbar", role: "img",
                          "aria-label": d.steps.map((s) => `${s.name} ${s.status}`).join(", ") });
  for (const s of d.steps) {
    const span = el("span", {
      "data-step": s.name, "data-status": s.status,
      title: `${s.name} ${s.status} ${formatDuration(elapsedMs(s, now))}`,
    });
    span.style.flexGrow = String(elapsedMs(s, now) / total);
    bar.append(span);
  }
  return bar;
}

function versionCell(d) {
  const from = d.from_version
    ? el("code", { title: d.from_commit || null }, d.from_version)
    : el("span", { class: "muted", title: "first deployment" }, "—");
  return el("td", { class: "versions", "data-label": "Version" }, from,
            el("span", { class: "arrow", "aria-label": "to" }, "→"),
            el("code", { title: d.to_commit || null }, d.to_version || shortSha(d.to_commit)));
}

function renderRow(d) {
  const tr = el("tr", { "data-id": d.id, "data-status": d.status, "data-project": d.project });
  const duration = isFinished(d) ? formatDuration(d.duration_ms) : "running";
  const stepsCell = el("td", { "data-label": "Steps" }, stepBar(d));
  if (d.error) stepsCell.append(el("div", { class: "error" }, d.error));
  tr.append(
    el("td", { class: "num", "data-label": "#" }, el("a", { href: `/deployments/${d.id}` }, `#${d.id}`)),
    el("td", { "data-label": "Status" }, statusBadge(d.status)),
    el("td", { "data-label": "Project" },
       el("a", { href: link(new URLSearchParams({ project: d.project })) }, d.project)),
    el("td", { "data-label": "Machine" }, d.machine),
    versionCell(d),
    el("td", { "data-label": "Trigger" }, `${d.trigger} · `, el("span", { class: "actor" }, d.actor)),
    el("td", { "data-label": "Started" }, relativeTime(d.started_at)),
    el("td", { class: "num", "data-label": "Duration" }, duration),
    stepsCell,
  );
  return tr;
}

function showEmpty(text) {
  tbody.replaceChildren(el("tr", {}, el("td", { colspan: 9, class: "empty" }, text)));
}

// Puts d in the table: replaces its row (only that row is touched), or (new)
// inserts it in id order.
function upsert(d, fresh) {
  const tr = renderRow(d);
  const old = rows.get(d.id);
  if (old) {
    old.tr.replaceWith(tr);
  } else {
    if (rows.size === 0) tbody.replaceChildren();
    const after = [...rows.keys()].filter((id) => id < d.id).sort((a, b) => b - a)[0];
    if (after !== undefined) rows.get(after).tr.before(tr);
    else tbody.append(tr);
    if (fresh) tr.classList.add("fresh");
  }
  rows.set(d.id, { tr, d });
}

// A running step's part of the bar grows with the time it has taken so far:
// only the running rows' bars are redrawn.
function growRunningBars() {
  for (const { tr, d } of rows.values()) {
    if (isFinished(d)) continue;
    const bar = tr.querySelector(".stepbar");
    if (bar) bar.replaceWith(stepBar(d));
  }
}

// Older/Newer keep the filters; only the newest page has no before/after.
function setPager(params, list, nextBefore) {
  const older = document.getElementById("older");
  const newer = document.getElementById("newer");
  const base = new URLSearchParams(filtersOf(params));
  if (params.get("after") && list.length > 0) {
    // A page of newer ones always has older ones: those at and below `after`.
    setOlder(params, list[list.length - 1].id);
  } else if (nextBefore !== null && nextBefore !== undefined) {
    setOlder(params, nextBefore);
  } else {
    older.hidden = true;
  }
  if (!isNewestPage(params) && list.length > 0) {
    const p = new URLSearchParams(base);
    p.set("after", list[0].id);
    newer.href = link(p);
    newer.hidden = false;
  } else {
    newer.hidden = true;
  }
}

// "Older" lists the ids below `before`, with the same filters.
function setOlder(params, before) {
  const older = document.getElementById("older");
  const p = new URLSearchParams(filtersOf(params));
  p.set("before", before);
  older.href = link(p);
  older.hidden = false;
}

async function load() {
  const params = query();
  const api = new URLSearchParams(filtersOf(params));
  for (const k of ["before", "after"]) if (params.get(k)) api.set(k, params.get(k));
  api.set("limit", PAGE_SIZE);
  const mine = ++generation;
  pending = pending || [];
  try {
    const body = await getJson(`/api/v1/deployments?${api}`);
    if (mine !== generation) return;  // the filters changed meanwhile: a newer load shows them
    rows.clear();
    tbody.replaceChildren();
    for (const d of body.deployments) upsert(d, false);
    if (body.deployments.length === 0) {
      showEmpty(Object.keys(filtersOf(params)).length ? "No deployments match these filters."
                                                      : "No deployments yet.");
    }
    // Paging back past the newest: show the newest page instead of nothing.
    if (params.get("after") && body.deployments.length === 0) {
      history.replaceState(null, "", link(new URLSearchParams(filtersOf(params))));
      return load();
    }
    setPager(params, body.deployments, body.next_before);
    notice("");
  } catch (e) {
    if (mine !== generation) return;
    rows.clear();
    showEmpty("Could not load deployments.");
    notice(`Could not load deployments: ${e.message}`);
  } finally {
    if (mine === generation) replayPending();
  }
}

// Applies the events that arrived during the load, once the list is there.
function replayPending() {
  const events = pending || [];
  pending = null;
  for (const d of events) onDeployment(d);
}

function fillForm() {
  const params = query();
  for (const k of FILTERS) form.elements[k].value = params.get(k) || "";
}

async function fillChoices() {
  const status = form.elements.status;
  for (const s of STATUSES) status.append(el("option", { value: s }, s.replace("_", " ")));
  try {
    const { projects } = await getJson("/api/v1/projects");
    const select = form.elements.project;
    for (const p of projects) select.append(el("option", { value: p.name }, p.name));
  } catch (e) {
    notice(`Could not load the projects: ${e.message}`);
  }
  // A filter in the URL for a project no longer configured still shows.
  const wanted = query().get("project");
  if (wanted && ![...form.elements.project.options].some((o) => o.value === wanted)) {
    form.elements.project.append(el("option", { value: wanted }, wanted));
  }
  fillForm();
}

function onFilterChange() {
  const p = new URLSearchParams();
  for (const k of FILTERS) {
    const v = form.elements[k].value.trim();
    if (v) p.set(k, v);
  }
  // Enter in the machine box fires both change and submit: one history entry.
  if (link(p) === location.pathname + location.search) return;
  history.pushState(null, "", link(p));
  load();
}

function onDeployment(d) {
  if (pending) {  // a load is under way: apply it on top of what it brings
    pending.push(d);
    return;
  }
  const params = query();
  if (rows.has(d.id)) {
    if (!isOlderState(d, rows.get(d.id).d)) upsert(d, false);
    return;
  }
  // New ones belong on the newest page only, and only when they match.
  if (isNewestPage(params) && matches(d, filtersOf(params))) {
    upsert(d, true);
    const ids = [...rows.keys()].sort((a, b) => a - b);
    let trimmed = false;
    while (rows.size > PAGE_SIZE) {  // keep one page: the oldest row leaves
      const id = ids.shift();
      rows.get(id).tr.remove();
      rows.delete(id);
      trimmed = true;
    }
    // The row that left is now on the older page.
    if (trimmed) setOlder(params, ids[0]);
  }
}

// The machine filter suggests this machine's name.
function onHello(h) {
  if (!document.getElementById("machines").children.length && h.machine) {
    document.getElementById("machines").append(el("option", { value: h.machine }));
  }
}

async function main() {
  form.addEventListener("change", onFilterChange);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    onFilterChange();
  });
  window.addEventListener("popstate", () => {
    fillForm();
    load();
  });
  const choices = fillChoices();
  // The stream first, then the list: nothing can fall between the two.
  await connectEvents({
    hello: onHello,
    deployment: onDeployment,
    reopen: load,  // what changed while the stream was down is only in the API
  });
  await choices;
  await load();
  // "3 min ago" moves on by itself; running steps grow.
  setInterval(() => refreshRelativeTimes(tbody), 10000);
  setInterval(growRunningBars, 1000);
}

main();
