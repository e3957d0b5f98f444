// A real Anthill for the browser tests: an origin git repository made from
// examples/hello, `anthill serve` on loopback with a token, and Debian's
// Chromium driven by playwright-core with a fresh user data dir.
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const TOKEN = "browser-test-token";
export const SOURCE = process.env.ANTHILL_SOURCE_DIR || path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BINARY = path.resolve(process.env.ANTHILL_BINARY || path.join(SOURCE, "build/anthill"));

// A TCP port on 127.0.0.1 that was free a moment ago.
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Waits for pred() to be truthy (it may be async); returns its value.
// With fatal, an "ended:" error from pred stops the wait at once.
export async function waitFor(pred, what, timeoutMs = 60000, fatal = false) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await pred();
      if (last) return last;
    } catch (e) {
      if (fatal && / ended: /.test(e.message)) throw e;
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

// SIGKILL to every process whose working directory is under dir: the
// deployed programs outlive Anthill by design.
export function killProcessesUnder(dir) {
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/cwd`).startsWith(dir)) process.kill(Number(pid), "SIGKILL");
    } catch {
      // gone already, or not ours to read
    }
  }
}

export class Anthill {
  async start() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "anthill-browser-"));
    this.origin = path.join(this.dir, "origin");
    fs.mkdirSync(this.origin);
    for (const f of ["hello.c", "Makefile"]) {
      fs.copyFileSync(path.join(SOURCE, "examples/hello", f), path.join(this.origin, f));
    }
    this.git("init", "-q", "-b", "main");
    this.commit("first version");
    this.apiPort = await freePort();
    this.appPort = await freePort();
    this.base = `http://127.0.0.1:${this.apiPort}`;
    fs.writeFileSync(path.join(this.dir, "anthill.toml"), `[server]
listen = "127.0.0.1:${this.apiPort}"
data_dir = "data"
machine = "browser-machine"
token = "${TOKEN}"

[[project]]
name = "hello"
repo = "${this.origin}"
branch = "main"
poll = "100ms"
build = "make"
test = "test -x hello"
run = "./hello --port ${this.appPort}"
health = { http = "http://127.0.0.1:${this.appPort}/healthz", timeout = "20s", interval = "50ms" }
stop_timeout = "2s"
`);
    const log = fs.openSync(path.join(this.dir, "anthill.log"), "a");
    this.process = spawn(BINARY, ["serve", "-c", "anthill.toml"], { cwd: this.dir, stdio: ["ignore", log, log] });
    this.exited = new Promise((resolve) => {
      this.process.on("exit", (code, signal) => resolve({ code, signal }));
      this.process.on("error", (error) => resolve({ code: null, signal: null, error: error.message }));
    });
    this.exited.then((r) => { this.result = r; });
    await waitFor(async () => {
      if (this.result) throw new Error(`anthill (${BINARY}) ended: ${JSON.stringify(this.result)}`);
      return (await fetch(`${this.base}/healthz`)).ok;
    }, "anthill to answer", 30000, true);
  }

  git(...args) {
    return execFileSync("git", ["-c", "user.name=Browser Test", "-c", "user.email=test@example.invalid", ...args],
                        { cwd: this.origin, encoding: "utf8" }).trim();
  }

  // Commits the origin as it is (plus a change to CHANGES); returns the sha.
  commit(message) {
    fs.writeFileSync(path.join(this.origin, "CHANGES"), `${message}\n`);
    this.git("add", "-A");
    this.git("commit", "-q", "-m", message);
    return this.git("rev-parse", "HEAD");
  }

  async api(target, init = {}) {
    const res = await fetch(this.base + target, init);
    return { status: res.status, body: await res.json() };
  }

  async deployments(query = "") {
    return (await this.api(`/api/v1/deployments?limit=100${query}`)).body.deployments;
  }

  // The finished deployment of commit sha.
  async finished(sha, timeoutMs = 60000) {
    return waitFor(async () => (await this.deployments()).find((d) => d.to_commit === sha && d.finished_at),
                   `a finished deployment of ${sha.slice(0, 8)}`, timeoutMs);
  }

  async stop() {
    if (this.process && !this.result && this.process.exitCode === null) {
      this.process.kill("SIGTERM");
      const deadline = setTimeout(() => this.process.kill("SIGKILL"), 20000);
      this.result = await this.exited;
      clearTimeout(deadline);
    }
    // The deployed program keeps running by design: end whatever still works in our dir.
    if (this.dir) killProcessesUnder(this.dir);
  }

  log() {
    try {
      return fs.readFileSync(path.join(this.dir, "anthill.log"), "utf8");
    } catch {
      return "";
    }
  }

  // anthill's log and the tail of the deployed program's, for a failure report.
  logs() {
    let app = "";
    try {
      app = fs.readFileSync(path.join(this.dir, "data/logs/app/hello.log"), "utf8").slice(-4000);
    } catch {
      // never started
    }
    return `---- anthill.log ----\n${this.log()}\n---- logs/app/hello.log (tail) ----\n${app}`;
  }

  remove() {
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// Headless Chromium with a fresh profile in its own temp dir.
export async function launchBrowser() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "anthill-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // Everything stays on loopback: no background, update or sync traffic.
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--no-first-run", "--disable-gpu"],
    viewport: { width: 1280, height: 800 },
  });
  const errors = [];
  context.on("weberror", (e) => errors.push(String(e.error())));
  return {
    context,
    errors,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function waitLive(page) {
  await page.waitForFunction(() => document.documentElement.dataset.live === "open", null, { timeout: 30000 });
}
