#!/usr/bin/env python3
"""The fleet on one box: build-queue latency, artifact transfer, connections.

Starts a PostgreSQL 15 of its own (initdb and pg_ctl, as the `postgres` user
when run as root, in a temp dir under /tmp; PostgreSQL's defaults, fsync on,
except that it listens on 127.0.0.1 only), one orchestrator (`anthill serve`,
roles orchestrator + agent, database on that server, token set) and two
builders (role builder, [builder] orchestrator = its URL). Two projects from
local git repositories holding examples/hello, both poll = "0": each
deployment is a commit followed by POST /api/v1/projects/P/notify.

1. Queued job -> builder claiming it: ROUNDS deployments of `hello` one
   after another (each waited for until its new version answers); after the
   run, build_jobs.queued_at and started_at (both the database server's
   clock, unix ms) are read with psql. Then the builders are restarted
   behind a loopback TCP proxy of this script that forwards the PostgreSQL
   protocol unchanged, and the same is measured twice more: with the
   proxy passing every message, and with it dropping NotificationResponse
   ('A') messages to the builders, so that they hear no LISTEN/NOTIFY and
   find work only when their idle wait (5 s) runs out. No Anthill code is
   changed. Also push (notify) -> new version serving, beside a
   single-machine Anthill on SQLite doing the same.
2. A 100 MB release (project `big`: its build writes 100,000,000 random
   bytes into the tree, so the archive does not compress): the `upload`
   (builder: pack as tar + zstd, SHA-256, PUT) and `download` (orchestrator:
   GET, size and SHA-256 check, unpack) steps of DEPLOYS deployments, read
   from GET /api/v1/deployments/ID, against plain curl on the same route:
   `curl -T` PUT and `curl -o` GET of a tar.zst of the same tree with fresh
   random bytes, plus `sha256sum`; `tar --zstd -cf` and `tar --zstd -xf` of
   it timed apart, so the reader can subtract packing and unpacking.
3. PostgreSQL connections each process holds (pg_stat_activity's
   client_port mapped to the process with `ss -tnp`), idle and while the
   100 MB deployments run.

Usage: bench/fleet_bench.py BINARY [ROUNDS] [DEPLOYS]
"""

import json
import math
import os
import pwd
import random
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from common import (ROOT, commit_change, free_port, get, header, hello_config, publish,
                    sample_repo, wait_for)

TOKEN = "fleet-bench-token"
BLOB_BYTES = 100_000_000
TIME_LIMIT = 900  # seconds; the whole run is stopped (and cleaned up) past this
PG_BIN = "/usr/lib/postgresql/15/bin"


def pg_binary(name):
    path = os.path.join(PG_BIN, name)
    return path if os.access(path, os.X_OK) else name


def run(argv, **kw):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          **kw).stdout.decode()


class Postgres:
    """A PostgreSQL 15 of this run, in dir/pg, listening on 127.0.0.1 only."""

    def __init__(self, work):
        self.dir = os.path.join(work, "pg")
        os.makedirs(self.dir)
        self.data = os.path.join(self.dir, "data")
        self.as_postgres = os.geteuid() == 0  # initdb and postgres refuse to run as root
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.started = False
        run(self.server_user([pg_binary("initdb"), "-D", self.data, "-U", "postgres", "-A", "trust",
                              "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"]))
        self.port = free_port()
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                    f"unix_socket_directories = '{self.dir}'\n")
            if os.environ.get("PG_STATS"):  # fleet_scale.py: the statements that took longest
                f.write("shared_preload_libraries = 'pg_stat_statements'\n")
        run(self.server_user([pg_binary("pg_ctl"), "start", "-D", self.data, "-l",
                              os.path.join(self.dir, "postgres.log"), "-w", "-t", "30", "-s"]))
        self.started = True
        self.psql("CREATE DATABASE anthill", db="postgres")

    def server_user(self, argv):
        return ["runuser", "-u", "postgres", "--", *argv] if self.as_postgres else argv

    def url(self, port=None):
        return f"postgresql://postgres@127.0.0.1:{port or self.port}/anthill"

    def psql(self, sql, db="anthill"):
        return run([pg_binary("psql"), "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                    "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db, "-c", sql])

    def rows(self, sql):
        return [line.split("\t") for line in self.psql(sql).splitlines() if line]

    def stop(self):
        if self.started:
            subprocess.run(self.server_user([pg_binary("pg_ctl"), "stop", "-D", self.data, "-m",
                                             "fast", "-w", "-s"]), check=False)
            self.started = False


def recv_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError
        out += chunk
    return out


class NotifyFilterProxy:
    """A loopback TCP proxy in front of PostgreSQL that forwards the wire
    protocol as it is, except that while `drop` is set it leaves out the
    server's NotificationResponse ('A') messages: LISTEN still succeeds, no
    notification ever arrives."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.drop = False
        self.passed = 0
        self.dropped = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def close(self):
        self.sock.close()

    def accept_loop(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(client,), daemon=True).start()

    def serve(self, client):
        server = None
        try:
            server = socket.create_connection(("127.0.0.1", self.target_port))
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # Start-up: an SSLRequest or GSSENCRequest is answered with one
            # byte (no message frame); then the startup message itself.
            while True:
                head = recv_exact(client, 8)
                length, code = struct.unpack("!II", head)
                if length == 8 and code in (80877103, 80877104):
                    server.sendall(head)
                    client.sendall(recv_exact(server, 1))
                    continue
                server.sendall(head + recv_exact(client, length - 8))
                break
            threading.Thread(target=self.pump, args=(client, server), daemon=True).start()
            self.filter(server, client)
        except (OSError, EOFError):
            pass
        finally:
            for s in (client, server):
                if s:
                    s.close()

    @staticmethod
    def pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def filter(self, server, client):
        buf = b""
        while True:
            data = server.recv(65536)
            if not data:
                return
            buf += data
            out, at = [], 0
            while len(buf) - at >= 5:
                length = struct.unpack("!I", buf[at + 1:at + 5])[0]
                if len(buf) - at < 1 + length:
                    break
                message = buf[at:at + 1 + length]
                at += 1 + length
                if message[:1] == b"A":
                    if self.drop:
                        self.dropped += 1
                        continue
                    self.passed += 1
                out.append(message)
            buf = buf[at:]
            if out:
                client.sendall(b"".join(out))


class Anthill:
    """One `anthill serve` in a directory of its own (anthill.toml, data/, anthill.log)."""

    def __init__(self, binary, home, config):
        self.binary, self.home = binary, home
        os.makedirs(home, exist_ok=True)
        self.config = os.path.join(home, "anthill.toml")
        with open(self.config, "w") as f:
            f.write(config)
        self.proc = None

    def start(self):
        env = dict(os.environ)
        env.pop("ANTHILL_TOKEN", None)
        log = open(os.path.join(self.home, "anthill.log"), "ab")
        self.proc = subprocess.Popen([self.binary, "serve", "-c", self.config], cwd=self.home,
                                     stdout=log, stderr=log, env=env)
        log.close()

    def log(self):
        with open(os.path.join(self.home, "anthill.log"), errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def orchestrator_config(api, database, projects):
    text = f"""[server]
listen = "127.0.0.1:{api}"
data_dir = "data"
machine = "orchestrator"
database = "{database}"
roles = ["orchestrator", "agent"]
token = "{TOKEN}"
"""
    for name, repo, app, build in projects:
        text += f"""
[[project]]
name = "{name}"
repo = "{repo}"
poll = "0"
build = "{build}"
run = "./hello --port {app}"
health = {{ http = "http://127.0.0.1:{app}/healthz", timeout = "30s", interval = "10ms" }}
"""
    return text


def builder_config(name, database, api):
    return f"""[server]
data_dir = "data"
machine = "{name}-box"
database = "{database}"
roles = ["builder"]
token = "{TOKEN}"

[builder]
name = "{name}"
orchestrator = "http://127.0.0.1:{api}"
"""


def api_call(api, method, path, body=None, token=TOKEN):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(f"http://127.0.0.1:{api}{path}", method=method, headers=headers,
                                 data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read().decode() or "null")


def version_of(app):
    return (get(f"http://127.0.0.1:{app}/version") or "").strip()


def deploy(api, project, repo, app, text, token=TOKEN, timeout=180):
    """Commits, notifies, waits until the new version answers and its
    deployment is recorded finished. Returns (seconds notify -> serving,
    the deployment)."""
    sha = commit_change(repo, text)
    t0 = time.time()
    api_call(api, "POST", f"/api/v1/projects/{project}/notify",
             {"ref": "refs/heads/main", "commit": sha}, token)
    label = "main-" + sha[:8]
    wait_for(lambda: version_of(app) == label, timeout=timeout, every=0.002)
    t1 = time.time()

    def finished():
        listing = api_call(api, "GET", f"/api/v1/deployments?project={project}&limit=5", None,
                           token)
        return next((d for d in listing["deployments"]
                     if d["to_commit"] == sha and d["finished_at"]), None)
    d = wait_for(finished, timeout=30, every=0.01)
    if d["status"] != "succeeded":
        raise SystemExit(f"bench: deployment {d['id']} of {project} ended {d['status']}: "
                         f"{d['error']}")
    return t1 - t0, d


def claim_latencies(pg, deployment_ids):
    """ms from queued_at to started_at of each deployment's build job, and
    how many jobs each builder took."""
    ids = ",".join(str(i) for i in deployment_ids)
    rows = pg.rows("SELECT deployment_id, started_at - queued_at, attempt, builder FROM build_jobs "
                   f"WHERE deployment_id IN ({ids}) ORDER BY id")
    out, builders = {}, {}
    for dep, ms, attempt, builder in rows:
        if attempt != "1" or int(dep) in out:
            raise SystemExit(f"bench: deployment {dep}'s build was claimed more than once")
        out[int(dep)] = int(ms)
        builders[builder] = builders.get(builder, 0) + 1
    if len(out) != len(deployment_ids):
        raise SystemExit(f"bench: {len(out)} build jobs for {len(deployment_ids)} deployments")
    return [out[i] for i in deployment_ids], builders


def p90(values):
    """Nearest rank."""
    s = sorted(values)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


class ConnectionCounter:
    """pg_stat_activity of database anthill, each backend's client port mapped
    to the anthill process that holds the socket (ss -tnp)."""

    def __init__(self, pg, roles):
        self.pg = pg
        self.roles = roles  # pid -> role name
        self.app_names = set()

    def sample(self):
        rows = self.pg.rows("SELECT client_port, coalesce(application_name, ''), state, "
                            "left(query, 40) FROM pg_stat_activity WHERE datname = 'anthill' "
                            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
        ss = run(["ss", "-tnpH", "state", "established", f"( dport = :{self.pg.port} )"])
        port_pid = {}
        for line in ss.splitlines():
            m = re.search(r"127\.0\.0\.1:(\d+)\s+127\.0\.0\.1:\d+\s+users:\(\(\"[^\"]*\",pid=(\d+)",
                          line)
            if m:
                port_pid[m.group(1)] = int(m.group(2))
        out = []  # (role, client port, kind)
        for port, app_name, state, query in rows:
            self.app_names.add(app_name)
            role = self.roles.get(port_pid.get(port), "other")
            kind = query if query.upper().startswith("LISTEN") else "pool"
            out.append((role, port, kind))
        return out


def per_role(samples, role_names):
    """For each role: (median, max) connections at a sample, distinct client
    ports over all samples, and what the LISTEN ones are."""
    table = {}
    for role in role_names:
        counts = [sum(1 for r, _, _ in s if r == role) for s in samples]
        ports = {p for s in samples for r, p, _ in s if r == role}
        listens = sorted({k for s in samples for r, _, k in s if r == role and k != "pool"})
        table[role] = (statistics.median(counts), max(counts), len(ports), listens)
    return table


def kill_under(work):
    """Kills every process whose working directory is under work (the
    deployed programs, any build left running), except PostgreSQL's (in
    work/pg: pg_ctl stops those)."""
    pg_dir = os.path.join(work, "pg")
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                cwd = os.readlink(f"/proc/{pid}/cwd")
                if cwd.startswith(work) and not cwd.startswith(pg_dir):
                    os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


def remove_tree(path):
    def writable(func, p, _):
        try:
            os.chmod(os.path.dirname(p), 0o755)
            os.chmod(p, 0o755)
            func(p)
        except OSError:
            pass
    shutil.rmtree(path, onerror=writable)


def timed(argv, **kw):
    t0 = time.monotonic()
    out = run(argv, **kw)
    return time.monotonic() - t0, out


def curl_round(api, release_dir, work, i):
    """The same route by hand: tar+zstd a copy of the release with fresh
    random bytes, PUT it with curl, GET it with curl, sha256sum it, unpack."""
    src = os.path.join(work, f"curl-src-{i}")
    shutil.copytree(release_dir, src)
    for root, dirs, files in os.walk(src):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    with open("/dev/urandom", "rb") as r, open(os.path.join(src, "blob.bin"), "wb") as w:
        left = BLOB_BYTES
        while left:
            chunk = r.read(min(left, 1 << 20))
            w.write(chunk)
            left -= len(chunk)
    archive = os.path.join(work, f"curl-{i}.tar.zst")
    fetched = os.path.join(work, f"curl-{i}-got.tar.zst")
    out_dir = os.path.join(work, f"curl-out-{i}")
    os.makedirs(out_dir)
    url = f"http://127.0.0.1:{api}/api/v1/artifacts/big/curl-{i}.tar.zst"
    auth = ["-H", "Authorization: Bearer " + TOKEN]
    pack, _ = timed(["tar", "--zstd", "-cf", archive, "-C", src, "."])
    # "Expect:": no "Expect: 100-continue" wait before sending the body.
    put, answer = timed(["curl", "-sS", "--fail-with-body", "-H", "Expect:", *auth, "-T", archive,
                         url])
    got, _ = timed(["curl", "-sS", "--fail-with-body", *auth, "-o", fetched, url])
    verify, digest = timed(["sha256sum", fetched])
    openssl, _ = timed(["openssl", "dgst", "-sha256", fetched])
    unpack, _ = timed(["tar", "--zstd", "-xf", fetched, "-C", out_dir])
    if digest.split()[0] != json.loads(answer)["sha256"]:
        raise SystemExit("bench: curl GET returned other bytes than it PUT")
    size = os.path.getsize(archive)
    for p in (src, out_dir):
        remove_tree(p)
    for p in (archive, fetched):
        os.remove(p)
    return {"pack": pack, "put": put, "get": got, "sha256sum": verify, "openssl": openssl,
            "unpack": unpack, "size": size}


def steps_of(d):
    return {s["name"]: s["duration_ms"] / 1000 for s in d["steps"]}


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/anthill")
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    big_rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    proxy_rounds = max(5, rounds // 2)

    def out_of_time(*_):
        raise SystemExit(f"bench: stopped after {TIME_LIMIT} s")
    signal.signal(signal.SIGALRM, out_of_time)
    signal.signal(signal.SIGTERM, out_of_time)
    signal.alarm(TIME_LIMIT)

    # The tree the binary was (presumably) built from, as the run starts.
    commit = subprocess.check_output(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]).decode()
    dirty = subprocess.check_output(["git", "-C", ROOT, "status", "--porcelain",
                                     "--untracked-files=no"]).decode().strip()
    work = tempfile.mkdtemp(prefix="anthill-fleet-", dir="/tmp")
    os.chmod(work, 0o755)  # the postgres user enters it to reach pg/
    # A copy of the binary: a rebuild of the original during the run would not touch it.
    exe = os.path.join(work, "anthill")
    shutil.copy2(binary, exe)
    pg, proxy, single = None, None, None
    anthills = {}
    results = {}
    try:
        t_start = time.monotonic()
        load_start = open("/proc/loadavg").read().split()[0]
        pg = Postgres(work)
        hello_repo = sample_repo(os.path.join(work, "hello-repo"))
        big_repo = sample_repo(os.path.join(work, "big-repo"))
        api, app, big_app = free_port(), free_port(), free_port()
        orch = anthills["orchestrator"] = Anthill(exe, os.path.join(work, "orchestrator"),
                                                  orchestrator_config(api, pg.url(), [
                                                      ("hello", hello_repo, app, "make"),
                                                      ("big", big_repo, big_app,
                                                       f"make && head -c {BLOB_BYTES} /dev/urandom "
                                                       "> blob.bin")]))
        orch.start()
        wait_for(lambda: get(f"http://127.0.0.1:{api}/healthz"), timeout=30)

        def start_builder(name, database):
            b = anthills.get(name)
            if b:
                b.stop()
            b = anthills[name] = Anthill(exe, os.path.join(work, name),
                                         builder_config(name, database, api))
            b.start()
            wait_for(lambda: f"builder {name}: registered" in b.log(), timeout=30, every=0.05)
        for name in ("b1", "b2"):
            start_builder(name, pg.url())
        # The look at start-up deploys both projects' heads.
        wait_for(lambda: version_of(app).startswith("main-"), timeout=120)
        wait_for(lambda: version_of(big_app).startswith("main-"), timeout=120)
        roles = {orch.proc.pid: "orchestrator+agent", anthills["b1"].proc.pid: "builder b1",
                 anthills["b2"].proc.pid: "builder b2"}
        counter = ConnectionCounter(pg, roles)

        # 1. Queued -> claimed, builders connected directly.
        fleet_e2e, fleet_deps = [], []
        for i in range(rounds):
            seconds, d = deploy(api, "hello", hello_repo, app, f"direct {i}")
            fleet_e2e.append(seconds)
            fleet_deps.append(d)
        results["direct"] = claim_latencies(pg, [d["id"] for d in fleet_deps])

        # 3a. Idle connections: the fleet settled, nothing queued.
        time.sleep(3)
        idle = []
        for _ in range(6):
            idle.append(counter.sample())
            time.sleep(0.5)

        # 2 + 3b. 100 MB releases through the fleet, curl on the same route,
        # connections sampled while each deployment runs.
        busy, sampling = [], threading.Event()

        def sampler():
            while True:
                sampling.wait()
                busy.append(counter.sample())
                time.sleep(0.1)
        threading.Thread(target=sampler, daemon=True).start()
        big_rows, curl_rows = [], []
        for i in range(big_rounds):
            sampling.set()
            seconds, d = deploy(api, "big", big_repo, big_app, f"big {i}", timeout=300)
            sampling.clear()
            s = steps_of(d)
            size = int(pg.rows(f"SELECT artifact_size FROM build_jobs WHERE deployment_id = "
                               f"{d['id']}")[0][0])
            big_rows.append({"upload": s["upload"], "download": s["download"],
                             "total": seconds, "size": size})
            release = os.path.join(orch.home, "data", "projects", "big", "current")
            curl_rows.append(curl_round(api, os.path.realpath(release), work, i))
        time.sleep(0.3)  # the sampler's last psql

        # 1b. Builders behind the proxy: notifications passed, then dropped.
        proxy = NotifyFilterProxy(pg.port)
        for name in ("b1", "b2"):
            start_builder(name, pg.url(proxy.port))
        time.sleep(1)
        pauses = random.Random(1)
        for mode, drop in (("proxy, notifications passed", False),
                           ("proxy, notifications dropped", True)):
            proxy.drop = drop
            deps = []
            for i in range(proxy_rounds):
                # A push at a random moment of the builders' 5 s idle wait.
                time.sleep(pauses.uniform(0, 5))
                _, d = deploy(api, "hello", hello_repo, app, f"{mode} {i}")
                deps.append(d)
            results[mode] = claim_latencies(pg, [d["id"] for d in deps])
        notes = {"passed": proxy.passed, "dropped": proxy.dropped}
        for name in ("b1", "b2", "orchestrator"):
            anthills[name].stop()
        kill_under(work)

        # 1c. One machine on SQLite, the same notify -> serving.
        single_dir = os.path.join(work, "single")
        os.makedirs(single_dir)
        s_api, s_app = free_port(), free_port()
        s_repo = sample_repo(os.path.join(single_dir, "repo"))
        config = hello_config(single_dir, s_api, s_app, s_repo, "0")
        single = Anthill(exe, single_dir, open(config).read())
        single.start()
        wait_for(lambda: version_of(s_app).startswith("main-"), timeout=60)
        single_e2e = []
        for i in range(rounds):
            seconds, _ = deploy(s_api, "hello", s_repo, s_app, f"single {i}", token=None)
            single_e2e.append(seconds)
        single.stop()
        elapsed = time.monotonic() - t_start
        load_end = open("/proc/loadavg").read().split()[0]
    finally:
        signal.alarm(0)
        if single:
            single.stop()
        for a in anthills.values():
            a.stop()
        kill_under(work)
        if proxy:
            proxy.close()
        if pg:
            pg.stop()
        kill_under(work)
        remove_tree(work)

    # The report.
    lines = header("fleet", "fleet_bench.py", binary, f"{rounds} {big_rounds}",
                   "PostgreSQL 15 of the run's own (its defaults, fsync on; loopback TCP), one "
                   "orchestrator (roles orchestrator + agent, token set) and two builders (role "
                   "builder, slots 1), each its own `anthill serve`; projects from local git "
                   "repositories holding examples/hello, poll = \"0\", each deployment a commit "
                   "followed by POST /api/v1/projects/P/notify and waited for until the new "
                   "version answers on /version.")
    lines.insert(3, f"Commit: {commit.strip()}" + (" (with uncommitted changes in the tree)"
                                                  if dirty else "") + "  ")
    lines += [f"Whole run: {elapsed:.0f} s; 1-minute load average {load_start} at its start, "
              f"{load_end} at its end (other work shares the machine).", "",
              "Queued build job -> a builder claims it (build_jobs.started_at - queued_at, "
              "both the database server's clock; ms):", "",
              "| builders' connection to PostgreSQL | jobs (taken by) | median | p90 | min | max |",
              "| --- | --- | --- | --- | --- | --- |"]
    for mode in ("direct", "proxy, notifications passed", "proxy, notifications dropped"):
        v, by = results[mode]
        took = ", ".join(f"{b} {n}" for b, n in sorted(by.items()))
        lines.append(f"| {mode} | {len(v)} ({took}) | {statistics.median(v):.0f} | {p90(v)} | "
                     f"{min(v)} | {max(v)} |")
    lines += ["", "The proxy is this script's own (Python, loopback), forwarding the PostgreSQL "
              "protocol unchanged except that in the last row it leaves out every "
              f"NotificationResponse to the builders ({notes['dropped']} dropped there; "
              f"{notes['passed']} passed in the row above): LISTEN succeeds and nothing is heard, "
              "so a builder finds a job only when its idle wait (5 s, README: A fleet) runs out. "
              "The direct rows' deployments follow one another back to back; in both proxy rows "
              "each push comes after a random pause of 0-5 s (the same seeded sequence), so that "
              "it lands at a random moment of the builders' 5 s wait (in a trial run without "
              "the pauses, every job waited 4.8-4.95 s: the builders' waits had all begun at "
              "the previous job's claim, one deployment earlier). p90 is nearest-rank.", "",
              "Push (notify) -> new version serving, hello:", "",
              "| seconds | runs | median | min | max |", "| --- | --- | --- | --- | --- |"]
    for name, v in (("fleet (builder, upload, download; PostgreSQL)", fleet_e2e),
                    ("one machine (SQLite, all roles)", single_e2e)):
        lines.append(f"| {name} | {len(v)} | {statistics.median(v):.3f} | {min(v):.3f} | "
                     f"{max(v):.3f} |")
    lines += ["", f"Ratio of medians, fleet / one machine: "
              f"{statistics.median(fleet_e2e) / statistics.median(single_e2e):.1f}.", "",
              "Steps of the fleet's hello deployments (recorded duration_ms, median, seconds): " +
              ", ".join(f"{name} {statistics.median(steps_of(d).get(name, 0) for d in fleet_deps):.3f}"
                        for name in ("fetch", "build", "test", "release", "upload", "download",
                                     "stop", "start", "healthcheck")) + ".", ""]

    med = lambda rows, key: statistics.median(r[key] for r in rows)
    anthill_sum = med(big_rows, "upload") + med(big_rows, "download")
    curl_sum = (med(curl_rows, "put") + med(curl_rows, "get") + med(curl_rows, "sha256sum"))
    lines += [f"A 100 MB release ({BLOB_BYTES:,} random bytes plus examples/hello), "
              f"{big_rounds} runs each, interleaved (seconds):", "",
              "| what | median | min | max |", "| --- | --- | --- | --- |"]

    def row(name, rows, key):
        v = [r[key] for r in rows]
        lines.append(f"| {name} | {statistics.median(v):.3f} | {min(v):.3f} | {max(v):.3f} |")
    row("anthill `upload` step (pack tar+zstd, SHA-256, fsync, PUT)", big_rows, "upload")
    row("anthill `download` step (GET, size + SHA-256 check, unpack)", big_rows, "download")
    row("curl -T (PUT)", curl_rows, "put")
    row("curl -o (GET)", curl_rows, "get")
    row("sha256sum of what GET wrote", curl_rows, "sha256sum")
    row("(openssl dgst -sha256 of the same, for comparison)", curl_rows, "openssl")
    row("tar --zstd -cf (packing alone)", curl_rows, "pack")
    row("tar --zstd -xf (unpacking alone)", curl_rows, "unpack")
    row("whole deployment of big, notify -> serving", big_rows, "total")
    lines += ["",
              f"Archive: {statistics.median(r['size'] for r in big_rows) / 1e6:.1f} MB from "
              f"Anthill, {statistics.median(r['size'] for r in curl_rows) / 1e6:.1f} MB from tar.",
              "",
              f"Ratio, medians: anthill upload + download {anthill_sum:.3f} s / curl PUT + GET + "
              f"sha256sum {curl_sum:.3f} s = **{anthill_sum / curl_sum:.2f}**. Anthill's two steps "
              "also pack and unpack; against curl plus tar on both ends "
              f"({curl_sum + med(curl_rows, 'pack') + med(curl_rows, 'unpack'):.3f} s) the ratio "
              f"is {anthill_sum / (curl_sum + med(curl_rows, 'pack') + med(curl_rows, 'unpack')):.2f}. "
              "Both PUTs go to the same orchestrator route (which hashes the body and keeps it "
              "content-addressed); curl is sent without `Expect: 100-continue`.", ""]

    role_names = ["orchestrator+agent", "builder b1", "builder b2", "other"]
    idle_t, busy_t = per_role(idle, role_names), per_role(busy, role_names)
    lines += ["PostgreSQL connections per process (pg_stat_activity of the database, client "
              "port -> process by `ss -tnp`; median / max over samples, and distinct "
              "connections seen):", "",
              "| process | idle: median / max | idle: distinct | during 100 MB deployments: "
              "median / max | during: distinct | LISTEN connections |",
              "| --- | --- | --- | --- | --- | --- |"]
    for role in role_names:
        i, b = idle_t[role], busy_t[role]
        if role == "other" and b[1] == 0 and i[1] == 0:
            continue
        listens = sorted(set(i[3]) | set(b[3]))
        lines.append(f"| {role} | {i[0]:g} / {i[1]} | {i[2]} | {b[0]:g} / {b[1]} | {b[2]} | "
                     f"{', '.join('`' + q + '`' for q in listens) or '-'} |")
    names = sorted(counter.app_names)
    lines += ["", f"Idle: {len(idle)} samples 0.5 s apart, 3 s after the last deployment; during: "
              f"{len(busy)} samples while the {big_rounds} deployments of big ran. "
              f"application_name seen: {', '.join(repr(n) for n in names) or 'none'} "
              "(Anthill sets none). By the code, a builder holds at most 8: PgRecordStore's pool "
              "(up to 4, each made when first needed and then kept), PgBuildQueue's (up to 2) "
              "and one LISTEN connection each for `anthill_changes` and `anthill_jobs`; an "
              "orchestrator one more, PgProjectOwnership's (its project leases).", ""]
    publish(lines)


if __name__ == "__main__":
    main()
