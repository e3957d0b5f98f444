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

export function saveToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

// Opens GET /api/v1/events and calls handlers[eventName](data). The browser
// reconnects by itself; the page shows whether it is live.
export function connectEvents(handlers, project = "") {
  const url = "/api/v1/events" + (project ? `?project=${encodeURIComponent(project)}` : "");
  const source = new EventSource(url);
  const indicator = document.getElementById("live");
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
      resolve(source);
    });
    source.addEventListener("error", () => setLive("closed"));
    for (const [name, handler] of Object.entries(handlers)) {
      source.addEventListener(name, (e) => {
        let data;
        try {
          data = JSON.parse(e.data);
        } catch {
          return;  // not ours to show
        }
        handler(data);
      });
    }
    // A page that cannot connect still works: it just is not live.
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
  return el("span", { class: `badge s-${status}`, "data-status": status },
            status.replace("_", " "));
}

export function shortSha(sha) {
  return sha ? sha.slice(0, 8) : "";
}

export function formatDuration(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.floor(s % 60)).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

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

// A message in the page's notice area (errors reaching the API).
export function notice(text) {
  const box = document.getElementById("notice");
  if (!box) return;
  box.textContent = text;
  box.hidden = !text;
}
