// /projects: a card per project with what runs and the buttons Deploy now and
// Roll back. The token is entered once, kept in localStorage, and sent as a
// header (never in a URL).
import {
  connectEvents, el, formatDuration, getJson, notice, oneAtATime, postJson, relativeTime, saveToken,
  savedToken, shortSha, statusBadge,
} from "/ui/common.js";

const cards = document.getElementById("projects");
const tokenForm = document.getElementById("token-form");
const messages = new Map();  // project -> {text, kind, deployment}: kept across redraws
const choices = new Map();   // project -> the rollback version picked

function showTokenState() {
  document.getElementById("token-state").textContent =
    savedToken() ? "A token is saved in this browser." : "No token saved: actions will be refused if the server has one.";
}

// The state shown on a card: what runs and how it is.
function stateWord(p) {
  if (p.state === "running") return p.health === "healthy" ? "healthy" : p.health === "unhealthy" ? "unhealthy" : "running";
  if (p.state === "elsewhere") return p.orchestrator ? `run by ${p.orchestrator}` : "no orchestrator holds it";
  return p.state;  // starting, deploying, restarting, stopped
}

function fact(dl, term, ...value) {
  dl.append(el("dt", {}, term), el("dd", {}, ...value));
}

function message(name) {
  const m = messages.get(name);
  const p = el("p", { class: `message ${m ? m.kind : ""}`, role: "status", "aria-live": "polite" });
  if (m) {
    p.append(m.text);
    if (m.deployment) {
      p.append(" ", el("a", { href: `/deployments/${m.deployment}` }, `deployment #${m.deployment}`));
    }
  }
  return p;
}

async function act(name, action, payload, button) {
  button.disabled = true;
  messages.set(name, { text: action === "deploy" ? "Asking for a deployment…" : "Asking for a rollback…", kind: "" });
  redrawMessage(name);
  try {
    const { status, body } = await postJson(`/api/v1/projects/${encodeURIComponent(name)}/${action}`,
                                            { ...payload, actor: "web" });
    if (status === 401) {
      messages.set(name, { kind: "bad",
        text: `Refused: this action needs the API token. Enter it above. (${body.error || "401"})` });
    } else if (status >= 400) {
      messages.set(name, { kind: "bad", text: `Refused (${status}): ${body.error || "error"}` });
    } else {
      messages.set(name, { kind: "ok", text: body.message || "Accepted.", deployment: body.deployment });
    }
  } catch (e) {
    messages.set(name, { kind: "bad", text: `Could not reach Anthill: ${e.message}` });
  } finally {
    button.disabled = false;
    redrawMessage(name);
  }
}

function redrawMessage(name) {
  const card = cards.querySelector(`article[data-project="${CSS.escape(name)}"]`);
  if (card) card.querySelector(".message").replaceWith(message(name));
}

// The program's recent life outside deployments: exits, restarts, stops,
// starts, health flips. Newest first.
const openEvents = new Set();  // projects whose event list is open: kept across redraws

function eventList(name, events) {
  if (!events.length) return null;
  const list = el("ol", { class: "events", "aria-label": "Recent program events" });
  for (const e of events) {
    list.append(el("li", { "data-kind": e.kind }, relativeTime(e.at), " ",
                   el("strong", {}, e.kind), e.detail ? ` ${e.detail}` : ""));
  }
  const details = el("details", { class: "recent", open: openEvents.has(name) },
                     el("summary", {}, `Recent program events (${events.length})`), list);
  details.addEventListener("toggle", () => {
    if (details.open) openEvents.add(name);
    else openEvents.delete(name);
  });
  return details;
}

function renderCard(p, versions, events = []) {
  const word = stateWord(p);
  const card = el("article", { class: "project", "data-project": p.name, "data-state": word });
  card.append(el("h2", {}, el("span", {}, p.name), el("span", { class: `badge state s-${word}` }, word)));
  const dl = el("dl");
  fact(dl, "Repository", el("code", {}, p.repo));
  fact(dl, p.tags ? "Tags" : "Branch", el("code", {}, p.tags || p.branch));
  fact(dl, "Version", p.version ? el("code", { class: "version", title: p.commit }, p.version)
                                : el("span", { class: "muted version" }, "nothing running"));
  if (p.commit) fact(dl, "Commit", el("code", { title: p.commit }, shortSha(p.commit)));
  fact(dl, "Process", p.pid ? `pid ${p.pid}, up ${formatDuration((p.uptime_seconds || 0) * 1000)}`
                            : el("span", { class: "muted" }, p.held ? "stopped by hand" : "not running"));
  fact(dl, "Restarts", String(p.restarts), p.last_exit ? el("span", { class: "muted" }, ` (last: ${p.last_exit})`) : null);
  if (p.last_deployment_id) {
    fact(dl, "Last deployment", el("a", { href: `/deployments/${p.last_deployment_id}` }, `#${p.last_deployment_id}`),
         " ", statusBadge(p.last_deployment_status || "queued"));
  }
  if (p.last_error) fact(dl, "Last error", el("span", { class: "error" }, p.last_error));
  if (p.pinned_out_commit) {
    fact(dl, "Not redeployed", el("code", { title: p.pinned_out_commit }, shortSha(p.pinned_out_commit)),
         el("span", { class: "muted" }, " (failed or rolled back)"));
  }
  card.append(dl);

  const deploy = el("button", { class: "deploy primary", type: "button" }, "Deploy now");
  deploy.addEventListener("click", () => act(p.name, "deploy", {}, deploy));
  const selectId = `rollback-${p.name}`;
  const select = el("select", { class: "rollback-version", id: selectId });
  const earlier = versions.filter((v) => v !== p.version);
  select.append(el("option", { value: "" }, "previous good release"));
  for (const v of earlier) select.append(el("option", { value: v }, v));
  if (choices.has(p.name) && [...select.options].some((o) => o.value === choices.get(p.name))) {
    select.value = choices.get(p.name);
  }
  select.addEventListener("change", () => choices.set(p.name, select.value));
  const rollback = el("button", { class: "rollback", type: "button" }, "Roll back");
  rollback.addEventListener("click", () => act(p.name, "rollback", { version: select.value }, rollback));
  card.append(el("div", { class: "actions" },
                 el("div", { class: "group" }, deploy),
                 el("div", { class: "group" }, el("label", { for: selectId }, "Roll back to"), select, rollback)));
  card.append(message(p.name));
  const recent = eventList(p.name, events);
  if (recent) card.append(recent);
  card.append(el("a", { href: `/deployments?project=${encodeURIComponent(p.name)}` }, "Deployments of this project"));
  return card;
}

// Earlier versions to roll back to: distinct versions of recent successful
// deployments, newest first.
async function versionsOf(name) {
  try {
    const { deployments } = await getJson(
      `/api/v1/deployments?project=${encodeURIComponent(name)}&status=succeeded&limit=20`);
    return [...new Set(deployments.map((d) => d.to_version).filter(Boolean))];
  } catch {
    return [];
  }
}

async function eventsOf(name) {
  try {
    return (await getJson(`/api/v1/projects/${encodeURIComponent(name)}/events?limit=5`)).events;
  } catch {
    return [];
  }
}

// Cards are redrawn on every change; a keyboard user's focus stays on the
// same control of the same card.
function focusedControl() {
  const active = document.activeElement;
  const card = active && cards.contains(active) ? active.closest("article.project") : null;
  if (!card || !active.classList.length) return null;
  return { project: card.dataset.project, cls: active.classList[0] };
}

function restoreFocus(focus) {
  if (!focus) return;
  const card = cards.querySelector(`article.project[data-project="${CSS.escape(focus.project)}"]`);
  card?.querySelector(`.${CSS.escape(focus.cls)}`)?.focus();
}

// One load at a time; one more after it if asked meanwhile.
const load = oneAtATime(async () => {
  try {
    const { projects } = await getJson("/api/v1/projects");
    const [versions, events] = await Promise.all([
      Promise.all(projects.map((p) => versionsOf(p.name))),
      Promise.all(projects.map((p) => eventsOf(p.name))),
    ]);
    if (cards.contains(document.activeElement) && document.activeElement.tagName === "SELECT") {
      loadSoon();  // someone is choosing a version: redraw after they are done
      return;
    }
    const focus = focusedControl();
    cards.replaceChildren(...projects.map((p, i) => renderCard(p, versions[i], events[i])));
    restoreFocus(focus);
    if (projects.length === 0) cards.replaceChildren(el("p", { class: "empty" }, "No projects configured."));
    notice("");
  } catch (e) {
    notice(`Could not load the projects: ${e.message}`);
  }
});

let timer = null;
function loadSoon() {
  clearTimeout(timer);
  timer = setTimeout(load, 300);
}

async function main() {
  showTokenState();
  tokenForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const input = document.getElementById("token");
    if (saveToken(input.value.trim())) {
      input.value = "";
      showTokenState();
    } else {
      document.getElementById("token-state").textContent =
        "This browser refuses to store it (storage is disabled).";
    }
  });
  await connectEvents({
    deployment: loadSoon,
    project: loadSoon,
    reopen: loadSoon,
  });
  await load();
  setInterval(loadSoon, 15000);  // uptimes and health checks move on
}

main();
