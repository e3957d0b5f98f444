// A real fleet for the browser tests, all on loopback in one temp dir: a
// PostgreSQL 15 of its own (initdb + pg_ctl; as root run as `postgres`), an
// orchestrator (`anthill serve`, every role: it is its own builder, through
// the build queue) and `anthill agent` processes, each with its data dir and
// its program (examples/hello behind start.sh) on a port of its own.
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { SOURCE, TOKEN, freePort, killProcessesUnder, waitFor } from "./harness.mjs";

const BINARY = path.resolve(process.env.ANTHILL_BINARY || path.join(SOURCE, "build/anthill"));
const PG_BIN = "/usr/lib/postgresql/15/bin";
const AS_ROOT = process.getuid() === 0;

function tail(file, bytes = 6000) {
  try {
    const text = fs.readFileSync(file, "utf8");
    return text.length > bytes ? `…${text.slice(-bytes)}` : text;
  } catch {
    return "(none)";
  }
}

// A child process with its output in a log file; `exited` resolves to
// {code, signal} once it ended.
class Proc {
  constructor(name, argv, { cwd, env = {}, log }) {
    this.name = name;
    this.logFile = log;
    const out = fs.openSync(log, "a");
    this.child = spawn(argv[0], argv.slice(1), { cwd, env: { ...process.env, ...env }, stdio: ["ignore", out, out] });
    fs.closeSync(out);
    this.result = null;
    this.exited = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => resolve({ code, signal }));
      this.child.on("error", (error) => resolve({ code: null, signal: null, error: error.message }));
    });
    this.exited.then((r) => { this.result = r; });
  }

  // Throws "NAME ended: ..." once it has exited (for waitFor's fatal).
  checkAlive() {
    if (this.result) throw new Error(`${this.name} ended: ${JSON.stringify(this.result)}`);
  }

  // SIGTERM, then SIGKILL once `deadlineMs` passed; resolves to how it ended.
  async stop(deadlineMs = 20000) {
    if (!this.result && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), deadlineMs);
      await this.exited;
      clearTimeout(timer);
    }
    return this.result;
  }
}

// PostgreSQL 15 in `dir` (trust auth, loopback and a socket in `dir`).
class Postgres {
  constructor(dir) {
    this.dir = dir;
    this.data = path.join(dir, "data");
    this.log = path.join(dir, "postgres.log");
  }

  run(bin, args, { asServer = true, timeout = 60000 } = {}) {
    const argv = [path.join(PG_BIN, bin), ...args];
    const [file, ...rest] = asServer && AS_ROOT ? ["runuser", "-u", "postgres", "--", ...argv] : argv;
    return execFileSync(file, rest, { cwd: this.dir, encoding: "utf8", timeout, stdio: ["ignore", "pipe", "pipe"] });
  }

  async start() {
    fs.mkdirSync(this.dir);
    if (AS_ROOT) {
      // initdb and the server refuse root: they run as `postgres`, which must own their dir.
      const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }));
      const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }));
      fs.chownSync(this.dir, uid, gid);
    }
    this.run("initdb", ["-D", this.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
                        "--no-sync", "--no-instructions"]);
    // A port free a moment ago may be taken before the server binds it: another one then.
    let why = "";
    for (let attempt = 0; attempt < 3; attempt++) {
      this.port = await freePort();
      fs.appendFileSync(path.join(this.data, "postgresql.conf"), `
# fleet_harness.mjs
listen_addresses = '127.0.0.1'
port = ${this.port}
unix_socket_directories = '${this.dir}'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 16MB
max_connections = 40
`);
      try {
        // -w: returns once the server accepts connections (or gave up after -t).
        this.run("pg_ctl", ["start", "-D", this.data, "-l", this.log, "-w", "-t", "30", "-s"]);
        this.started = true;
        break;
      } catch (e) {
        this.stop();
        why = `${e.message}\n${tail(this.log)}`;
        if (!/Address already in use/.test(tail(this.log))) break;
      }
    }
    if (!this.started) throw new Error(`PostgreSQL did not start: ${why}`);
    this.run("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", this.dir, "-p", String(this.port), "-U", "postgres",
                      "-d", "postgres", "-c", "CREATE DATABASE anthill"], { asServer: false });
  }

  url() {
    return `postgresql://postgres@127.0.0.1:${this.port}/anthill`;
  }

  stop() {
    try {
      this.run("pg_ctl", ["stop", "-D", this.data, "-m", "immediate", "-w", "-s"], { timeout: 30000 });
    } catch {
      // never started, or already gone
    }
  }
}

// start.sh runs hello on $PORT unless this machine ($MACHINE, from the
// agent's --env) is listed in the release's fail-on file: then it exits at
// once, so that a release can fail on one machine only.
const START_SH = `#!/bin/sh
if [ -f fail-on ] && grep -qx "$MACHINE" fail-on; then
  echo "broken on $MACHINE" >&2
  exit 3
fi
exec ./hello --port "$PORT"
`;

export class Fleet {
  // agents: [{ name, labels: [...] }]; rollout: the project's rollout table.
  constructor({ agents, rollout }) {
    this.agentSpecs = agents;
    this.rollout = rollout;
    this.agents = new Map();  // name -> { port, labels, token, dir, proc }
  }

  async start() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "anthill-fleet-"));
    fs.chmodSync(this.dir, 0o711);  // `postgres` passes through to its own dir
    // Should this process end without stop() (an uncaught error, Ctrl-C),
    // nothing it started outlives it.
    this.onExit = () => this.abandon();
    this.onSignal = (signal) => process.exit(signal === "SIGINT" ? 130 : 143);
    process.on("exit", this.onExit);
    process.once("SIGINT", this.onSignal);
    process.once("SIGTERM", this.onSignal);
    this.pg = new Postgres(path.join(this.dir, "pg"));
    await this.pg.start();

    this.origin = path.join(this.dir, "origin");
    fs.mkdirSync(this.origin);
    for (const f of ["hello.c", "Makefile"]) {
      fs.copyFileSync(path.join(SOURCE, "examples/hello", f), path.join(this.origin, f));
    }
    fs.writeFileSync(path.join(this.origin, "start.sh"), START_SH, { mode: 0o755 });
    // No commit yet: the first one is made once every agent answers, so
    // that its rollout reaches them all.
    this.git("init", "-q", "-b", "main");

    // While this file exists builds wait (before make): a test holds a
    // deployment there to open its page before the rollout begins.
    this.hold = path.join(this.dir, "hold-builds");
    this.home = path.join(this.dir, "orchestrator");
    fs.mkdirSync(this.home);
    this.apiPort = await freePort();
    this.base = `http://127.0.0.1:${this.apiPort}`;
    this.config = path.join(this.home, "anthill.toml");
    fs.writeFileSync(this.config, `[server]
listen = "127.0.0.1:${this.apiPort}"
data_dir = "data"
machine = "orchestrator"
token = "${TOKEN}"
database = "${this.pg.url()}"

[[project]]
name = "hello"
repo = "${this.origin}"
branch = "main"
poll = "100ms"
build = "while [ -e '${this.hold}' ]; do sleep 0.05; done; make"
test = "test -x hello"
run = "./start.sh"
health = { http = "http://127.0.0.1:\${PORT}/healthz", timeout = "10s", interval = "50ms" }
stop_timeout = "2s"
machines = ["web-*"]
rollout = ${this.rollout}
`);
    this.orchestrator = new Proc("orchestrator", [BINARY, "serve", "-c", this.config],
                                 { cwd: this.home, log: path.join(this.home, "anthill.log") });
    await waitFor(async () => {
      this.orchestrator.checkAlive();
      return (await fetch(`${this.base}/healthz`)).ok;
    }, "the orchestrator to answer", 30000, true);

    for (const spec of this.agentSpecs) await this.addAgent(spec);
  }

  // Registers the agent (its token is the CLI's last line), starts it and
  // waits until the orchestrator has heard from it.
  async addAgent({ name, labels }) {
    const out = execFileSync(BINARY, ["agents", "add", name, "-c", this.config], { cwd: this.home, encoding: "utf8" });
    const token = out.trim().split("\n").pop();
    if (!token.startsWith(`${name}.`)) throw new Error(`no token for ${name} in: ${out}`);
    const dir = path.join(this.dir, name);
    fs.mkdirSync(dir);
    const agent = { name, labels, token, dir, port: await freePort() };
    this.agents.set(name, agent);
    agent.proc = new Proc(name, [BINARY, "agent", "--server", this.base, "--machine", name,
                                 "--labels", labels.join(","), "--data-dir", path.join(dir, "data"),
                                 "--env", `PORT=${agent.port}`, "--env", `MACHINE=${name}`],
                          { cwd: dir, env: { ANTHILL_AGENT_TOKEN: token }, log: path.join(dir, "agent.log") });
    await waitFor(async () => {
      agent.proc.checkAlive();
      return (await this.machine(name))?.last_seen_at;
    }, `agent ${name} to be heard from`, 30000, true);
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

  // Tells the orchestrator that main moved to `sha` (what a post-receive
  // hook does): its poller, backing off while main did not exist, looks now.
  async notify(sha) {
    const res = await this.api("/api/v1/projects/hello/notify", {
      method: "POST",
      headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
      body: JSON.stringify({ ref: "refs/heads/main", commit: sha }),
    });
    if (res.status !== 202) throw new Error(`notify: ${res.status} ${JSON.stringify(res.body)}`);
  }

  // Builds wait from now on until releaseBuilds().
  holdBuilds() {
    fs.writeFileSync(this.hold, "held by the test\n");
  }

  releaseBuilds() {
    fs.rmSync(this.hold, { force: true });
  }

  // A release of the origin that fails on these machines (none: on none).
  failOn(...machines) {
    const file = path.join(this.origin, "fail-on");
    if (machines.length) fs.writeFileSync(file, machines.map((m) => `${m}\n`).join(""));
    else fs.rmSync(file, { force: true });
  }

  async api(target, init = {}) {
    const res = await fetch(this.base + target, init);
    return { status: res.status, body: await res.json() };
  }

  async deployments(query = "") {
    return (await this.api(`/api/v1/deployments?limit=100${query}`)).body.deployments;
  }

  async deployment(id) {
    return (await this.api(`/api/v1/deployments/${id}`)).body;
  }

  async machines() {
    return (await this.api("/api/v1/machines")).body.machines;
  }

  async machine(name) {
    return (await this.machines()).find((m) => m.name === name);
  }

  // The newest deployment of commit sha (null while there is none).
  async deploymentOf(sha) {
    return (await this.deployments()).find((d) => d.to_commit === sha) || null;
  }

  // The newest deployment of commit sha once it finished, with its machines.
  async finished(sha, timeoutMs = 90000) {
    const d = await waitFor(async () => {
      this.orchestrator.checkAlive();
      const found = await this.deploymentOf(sha);
      return found && found.finished_at && found;
    }, `a finished deployment of ${sha.slice(0, 8)}`, timeoutMs, true);
    return this.deployment(d.id);
  }

  // Waits until every agent says it runs `version`, healthy (what /machines shows).
  async allRun(version, timeoutMs = 60000) {
    return waitFor(async () => {
      const machines = await this.machines();
      const runs = [...this.agents.keys()].map((name) => machines.find((m) => m.name === name)?.projects?.[0]);
      return runs.every((p) => p && p.version === version && p.health === "healthy" && p.pid) && machines;
    }, `every agent to run ${version}, healthy`, timeoutMs);
  }

  // What agent `name`'s program answers on "/" ("" when nothing does).
  async greeting(name) {
    try {
      const res = await fetch(`http://127.0.0.1:${this.agents.get(name).port}/`);
      return await res.text();
    } catch {
      return "";
    }
  }

  // Agents, then the orchestrator: SIGTERM, SIGKILL after 20 s. Their exit
  // results are kept in `results` ({name: {code, signal}}).
  async stop() {
    process.off("exit", this.onExit);
    process.off("SIGINT", this.onSignal);
    process.off("SIGTERM", this.onSignal);
    this.results = {};
    const agents = [...this.agents.values()].filter((a) => a.proc);
    const ended = await Promise.all(agents.map((a) => a.proc.stop()));
    agents.forEach((a, i) => { this.results[a.name] = ended[i]; });
    if (this.orchestrator) this.results.orchestrator = await this.orchestrator.stop();
    if (this.pg) this.pg.stop();
    this.killLeftovers();
  }

  // The programs keep running by design: ends whatever still works in our dir.
  killLeftovers() {
    if (this.dir) killProcessesUnder(this.dir);
  }

  // At exit without stop() (synchronous: it runs in process.on("exit")).
  abandon() {
    for (const p of [...[...this.agents.values()].map((a) => a.proc), this.orchestrator]) {
      if (p && !p.result && p.child.exitCode === null) p.child.kill("SIGKILL");
    }
    if (this.pg) this.pg.stop();
    this.killLeftovers();
    process.stderr.write(`fleet_harness: ended without stop(); the logs:\n${this.logs()}`);
    this.remove();
  }

  // Every process's log (and the programs' tails), for a failure report.
  logs() {
    if (!this.dir) return "";
    let text = `---- orchestrator/anthill.log ----\n${tail(path.join(this.home, "anthill.log"), 30000)}\n`;
    for (const a of this.agents.values()) {
      text += `---- ${a.name}/agent.log ----\n${tail(path.join(a.dir, "agent.log"), 10000)}\n`;
      text += `---- ${a.name}: logs/app/hello.log (tail) ----\n${tail(path.join(a.dir, "data/logs/app/hello.log"), 2000)}\n`;
    }
    text += `---- postgres.log (tail) ----\n${tail(path.join(this.dir, "pg/postgres.log"), 3000)}\n`;
    return text;
  }

  remove() {
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
