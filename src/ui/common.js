// Shared by every page: fetching the API, the live event stream, and the
// small pieces of display (status badges, times, durations).
//
// Every value that came from a repository or a pusher (actor, versions,
// refs, errors, log text) reaches the page through textContent or
// setAttribute, never as HTML: a branch called "<script>" is shown as text.

const TOKEN_KEY = "anthill.token";

export const STATUSES = ["queued", "running", "succeeded", "failed", "rolled_back", "cancelled",
                         "interrupted"];

// GET a JSON document; throws an Error whose message is the server's.
export async function getJson(url) {
  const res = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error(body.error || `${res.status} ${res.statusText}`);
    err.status = res.status;
    throw err;
  }
  return body;
}

// POST a JSON body with the saved token; resolves to {status, body} even for
// refusals, so the caller can explain them.
export async function postJson(url, payload) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  const token = savedToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(url, { method: "POST", headers, body: JSON.stringify(payload) });
  const body = await res.json().catch(() => ({}));
  return { status: res.status, body };
}

export function savedToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";  // storage disabled: act as if none was saved
  }
}

// Returns false when the browser refuses storage (private mode, disabled).
export function saveToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
    return true;
  } catch {
    return false;
  }
}

// Opens GET /api/v1/events and calls handlers[eventName](data). The browser
// reconnects by itself; the page shows whether it is live. Events sent while
// the stream was down are lost, so handlers.reopen (if given) is called on
// every reconnection: the page re-reads what it shows.
// Every page shows the machine the stream's `hello` names in its header.
// Resolves once the stream is open (or after 3 s: a page that cannot connect
// still works, it just is not live).
export function connectEvents(handlers, project = "") {
  const url = "/api/v1/events" + (project ? `?project=${encodeURIComponent(project)}` : "");
  const source = new EventSource(url);
  const indicator = document.getElementById("live");
  let wasOpen = false;
  let dropped = false;
  const setLive = (state) => {
    document.documentElement.dataset.live = state;
    if (indicator) {
      indicator.textContent = state === "open" ? "live" : "reconnecting…";
      indicator.className = `live ${state}`;
      indicator.title = state === "open" ? "Updates arrive as they happen"
                                         : "The event stream dropped; the browser is reconnecting";
    }
  };
  return new Promise((resolve) => {
    source.addEventListener("open", () => {
      setLive("open");
      if (wasOpen && dropped && handlers.reopen) handlers.reopen();
      wasOpen = true;
      dropped = false;
      resolve(source);
    });
    source.addEventListener("error", () => {
      dropped = true;
      setLive("closed");
    });
    source.addEventListener("hello", (e) => {
      const { machine } = JSON.parse(e.data);
      const label = document.getElementById("machine");
      if (label) label.textContent = machine ? `on ${machine}` : "";
    });
    for (const [name, handler] of Object.entries(handlers)) {
      if (name === "reopen") continue;
      source.addEventListener(name, (e) => {
        let data;
        try {
          data = JSON.parse(e.data);
        } catch {
          return;  // not ours to show
        }
        try {
          handler(data);
        } catch (err) {
          // One odd event must not stop the ones after it.
          console.error(`anthill: the ${name} event could not be shown`, err);
        }
      });
    }
    setTimeout(() => resolve(source), 3000);
  });
}

// createElement with text and attributes in one go.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

// A status as a coloured dot and its word (never colour alone).
export function statusBadge(status) {
  const word = String(status || "unknown");
  return el("span", { class: `badge s-${word}`, "data-status": word }, word.replaceAll("_", " "));
}

export function shortSha(sha) {
  return sha ? sha.slice(0, 8) : "";
}

// "850 ms", "12.3 s", "4 min 05 s", "2 h 07 min".
export function formatDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "";
  if (ms < 999.5) return `${Math.round(ms)} ms`;  // 999.7 is "1.0 s", not "1000 ms"
  if (ms < 59950) return `${(ms / 1000).toFixed(1)} s`;  // below what would round to "60.0 s"
  const total = Math.round(ms / 1000);
  const m = Math.floor(total / 60);
  if (m < 60) return `${m} min ${String(total % 60).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

// "just now", "12 s ago", "3 min ago", "2 h ago", "4 d ago".
export function formatRelative(iso, now = Date.now()) {
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

// "2026-11-25 08:01:02 UTC"
export function formatExact(iso) {
  return iso ? iso.replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC") : "";
}

// A <time> showing "3 min ago", the exact time on hover; refreshRelativeTimes
// keeps every one of them current.
export function relativeTime(iso) {
  return el("time", { datetime: iso, title: formatExact(iso), "data-relative": "" },
            formatRelative(iso));
}

export function refreshRelativeTimes(root = document) {
  const now = Date.now();
  for (const t of root.querySelectorAll("time[data-relative]")) {
    t.textContent = formatRelative(t.getAttribute("datetime"), now);
  }
}

// How long a deployment or step took, or has taken so far.
export function elapsedMs(item, now = Date.now()) {
  if (item.duration_ms !== null && item.duration_ms !== undefined) return item.duration_ms;
  return Math.max(0, now - Date.parse(item.started_at));
}

export function isFinished(deployment) {
  return deployment.finished_at !== null && deployment.finished_at !== undefined;
}

// Deployments only move forward (more steps, then finished), so an event
// that shows less progress than the row is an older state: keep the row.
export function isOlderState(incoming, known) {
  if (!known) return false;
  if (isFinished(known) && !isFinished(incoming)) return true;
  const steps = (d) => d.steps || [];
  if (steps(incoming).length !== steps(known).length) return steps(incoming).length < steps(known).length;
  const ended = (d) => steps(d).filter((st) => st.finished_at).length;
  return ended(incoming) < ended(known);
}

// A message in the page's notice area (errors reaching the API).
export function notice(text) {
  const box = document.getElementById("notice");
  if (!box) return;
  box.textContent = text;
  box.hidden = !text;
}

// `work` (an async function) made to run one at a time: a call while it runs
// asks for one more run after it (however many calls came), and every
// caller's promise ends once the run it asked for has.
export function oneAtATime(work) {
  let running = null;
  let again = false;
  const run = async () => {
    if (running) {
      again = true;
      return running;
    }
    running = work();
    try {
      await running;
    } finally {
      running = null;
    }
    if (again) {
      again = false;
      await run();
    }
  };
  return run;
}
