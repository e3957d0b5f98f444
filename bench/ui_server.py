#!/usr/bin/env python3
"""Server-side latency of every page and API call the web UI uses, with a
large history: 100,000 deployments and 1,000,000 steps in SQLite.

A real `anthill serve` on loopback makes its database; the script stops it,
fills the tables straight through SQLite (10 projects, 3 machines, a mix of
statuses, 10 steps per deployment), starts anthill again on that database and
times each call from a client on one keep-alive connection. The times include
the client and loopback, so they are an upper bound of the server's part.
Usage: bench/ui_server.py BINARY [REQUESTS_PER_CALL] [DEPLOYMENTS]
"""

import http.client
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time

from common import free_port, get, header, publish, sample_repo, serve, stop, wait_for

STEPS = ["fetch", "build", "test", "release", "stop", "start", "healthcheck", "notify", "cleanup",
         "record"]
STATUSES = ["succeeded"] * 90 + ["failed"] * 5 + ["rolled_back"] * 3 + ["cancelled"] * 2


def start(binary, config, api):
    daemon = serve(binary, config)
    wait_for(lambda: get(f"http://127.0.0.1:{api}/healthz"), timeout=60)
    return daemon


def fill(db_file, deployments):
    """deployments rows and 10 steps each, in one transaction."""
    db = sqlite3.connect(db_file)
    base = db.execute("SELECT coalesce(max(id), 0) FROM deployments").fetchone()[0]
    rng = random.Random(7)
    t0 = 1_700_000_000_000
    dep_rows, step_rows = [], []
    for i in range(base + 1, base + deployments + 1):
        start_ms = t0 + i * 60_000
        status = rng.choice(STATUSES)
        sha = f"{i:040x}"
        dep_rows.append((i, f"p{i % 10}", f"m{i % 3}", f"main-{i - 1:08x}", f"main-{i:08x}",
                         f"{i - 1:040x}", sha, "refs/heads/main", "poll", "poll", status, start_ms,
                         start_ms + 10 * 3000, "build failed (exit 2)" if status == "failed" else "",
                         f"r{i}"))
        for k, name in enumerate(STEPS):
            failed = status == "failed" and name == "build"
            step_rows.append((i, name, "failed" if failed else "succeeded", start_ms + k * 3000,
                              start_ms + (k + 1) * 3000, "exit 2" if failed else ""))
    db.execute("BEGIN")
    db.executemany("INSERT INTO deployments (id, project, machine, from_version, to_version, "
                   "from_commit, to_commit, ref, trigger, actor, status, started_at, finished_at, "
                   "error, release) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", dep_rows)
    db.executemany("INSERT INTO steps (deployment_id, name, status, started_at, finished_at, error) "
                   "VALUES (?,?,?,?,?,?)", step_rows)
    db.commit()
    db.close()
    return len(dep_rows), len(step_rows)


def time_calls(api, calls, n):
    conn = http.client.HTTPConnection("127.0.0.1", api, timeout=10)
    rows = []
    for label, target in calls:
        samples = []
        for i in range(n + 10):
            t = time.perf_counter()
            conn.request("GET", target() if callable(target) else target)
            r = conn.getresponse()
            body = r.read()
            dt = (time.perf_counter() - t) * 1000
            if r.status != 200:
                raise SystemExit(f"bench: {label} answered {r.status}: {body[:200]!r}")
            if i >= 10:  # the first ten warm the caches
                samples.append(dt)
        samples.sort()
        p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
        rows.append((label, statistics.median(samples), p99, samples[-1], len(body)))
    conn.close()
    return rows


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/anthill")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    deployments = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
    work = tempfile.mkdtemp(prefix="anthill-bench-")
    repo = sample_repo(os.path.join(work, "repo"))
    api = free_port()
    config = os.path.join(work, "anthill.toml")
    with open(config, "w") as f:
        f.write(f"""[server]
listen = "127.0.0.1:{api}"
data_dir = "data"
machine = "m0"
[[project]]
name = "p0"
repo = "{repo}"
branch = "main"
poll = "0"
build = "true"
run = "sleep 600"
""")
    stop_only(start(binary, config, api))
    t = time.monotonic()
    made, steps = fill(os.path.join(work, "data", "anthill.db"), deployments)
    print(f"filled {made} deployments and {steps} steps in {time.monotonic() - t:.1f} s")
    daemon = start(binary, config, api)
    try:
        rng = random.Random(1)
        mid = deployments // 2  # an id in the middle of the history
        deep = max(deployments // 200, 1)  # near the oldest: page ~deployments/50
        calls = [
            ("GET /deployments (page)", "/deployments"),
            ("GET /deployments/{id} (page)", f"/deployments/{mid}"),
            ("GET /projects (page)", "/projects"),
            ("GET /ui/deployments.js", "/ui/deployments.js"),
            ("GET /ui/app.css", "/ui/app.css"),
            ("newest 50", "/api/v1/deployments?limit=50"),
            (f"50 before id {deep:,} (page {(deployments - deep) // 50:,})", f"/api/v1/deployments?limit=50&before={deep}"),
            (f"50 after id {mid:,} (paging back)", f"/api/v1/deployments?limit=50&after={mid}"),
            ("project=p3", "/api/v1/deployments?limit=50&project=p3"),
            ("machine=m2", "/api/v1/deployments?limit=50&machine=m2"),
            ("status=failed", "/api/v1/deployments?limit=50&status=failed"),
            ("project=p3&machine=m1&status=rolled_back",
             "/api/v1/deployments?limit=50&project=p3&machine=m1&status=rolled_back"),
            ("status=interrupted (none)", "/api/v1/deployments?limit=50&status=interrupted"),
            ("project=p3&status=interrupted (none)",
             "/api/v1/deployments?limit=50&project=p3&status=interrupted"),
            ("rollback choices: project=p3&status=succeeded&limit=20",
             "/api/v1/deployments?limit=20&project=p3&status=succeeded"),
            ("one deployment + previous/next (random id)",
             lambda: f"/api/v1/deployments/{rng.randint(1, deployments)}"),
            ("its log (offset=0)", f"/api/v1/deployments/{mid}/log?offset=0"),
            ("GET /api/v1/projects", "/api/v1/projects"),
        ]
        rows = time_calls(api, calls, n)
    finally:
        stop(daemon, work)
    lines = header("UI server latency", "ui_server.py", binary, f"{n} {deployments}",
                   f"{made:,} deployments and {steps:,} steps in SQLite (10 projects, 3 machines, "
                   f"90% succeeded); {n} sequential GETs per call on one keep-alive connection "
                   f"after 10 warm-up GETs, timed at the client (Python http.client) over loopback.")
    lines += ["| call | median ms | p99 ms | max ms | bytes |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {l} | {m:.2f} | {p:.2f} | {x:.2f} | {b:,} |" for l, m, p, x, b in rows]
    worst = max(rows, key=lambda r: r[2])
    lines += ["", f"Slowest p99: {worst[0]}, {worst[2]:.2f} ms (the bar: 20 ms).", ""]
    publish(lines)


def stop_only(daemon):
    daemon.terminate()
    daemon.wait()


if __name__ == "__main__":
    main()
