#!/usr/bin/env python3
"""SIGKILL Anthill at random moments while good versions (slow to become
healthy), bad versions (crash at start, or never healthy) and rollbacks come
in; after each restart, once it settles, check that what runs is a version
that passed its check and not one a rollback left. Counts kills, what each
interrupted, violations, and how long a restart took to settle.

Not a timing benchmark but a fault loop too long for the suite (the suite's
e2e test TrustTest.KillLoopDuringChecksAndRollbacks... runs 30 kills).
Usage: bench/kill_loop.py BINARY [KILLS]
"""

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

from common import (free_port, get, git, header, hello_config, publish, sample_repo, serve, stop,
                    summary, wait_for)


def commit_mode(repo, mode, note):
    with open(os.path.join(repo, "mode"), "w") as f:
        f.write(mode + "\n")
    with open(os.path.join(repo, "CHANGES"), "w") as f:
        f.write(note + "\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"{mode}: {note}")
    return subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=repo).decode().strip()


def api_json(api, path):
    text = get(f"http://127.0.0.1:{api}{path}")
    return json.loads(text) if text else None


def project(api):
    j = api_json(api, "/api/v1/projects")
    return j["projects"][0] if j and j.get("projects") else None


def settled(api):
    p = project(api)
    q = api_json(api, "/api/v1/queue")
    if not p or q is None:
        return None
    busy = any(x.get("running") or x.get("waiting") for x in q.get("projects", []))
    if p["state"] == "running" and p["health"] == "healthy" and not busy:
        return p
    return None


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/anthill")
    kills = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    work = tempfile.mkdtemp(prefix="anthill-bench-")
    repo = sample_repo(os.path.join(work, "repo"))
    api, app = free_port(), free_port()
    config = hello_config(work, api, app, repo, "100ms")
    # A 3 s health timeout keeps "never healthy" versions from dominating the run.
    text = open(config).read().replace('timeout = "10s", interval = "10ms"',
                                       'timeout = "3s", interval = "50ms"')
    open(config, "w").write(text)
    good = {subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=repo).decode().strip()}
    left = set()
    rng = random.Random()
    daemon = serve(binary, config)
    rows, violations, phases = [], [], {}
    try:
        wait_for(lambda: settled(api), timeout=120)
        for k in range(kills):
            action = k % 3
            if action == 0:
                good.add(commit_mode(repo, "slow-start", f"round {k}"))
            elif action == 1:
                commit_mode(repo, "crash" if k % 2 else "unhealthy", f"round {k}")
            else:
                r = subprocess.run([binary, "rollback", "hello", "--no-wait", "-c", config],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                if r.returncode == 0:
                    p = project(api)
                    if p and p.get("pinned_out_commit"):
                        left.add(p["pinned_out_commit"])
                    for d in api_json(api, "/api/v1/deployments?limit=20")["deployments"]:
                        if d["trigger"] == "rollback":
                            left.discard(d["to_commit"])
                            break
            time.sleep(rng.uniform(0, 1.5))  # a random moment, on purpose
            # What was in progress when the kill came (for the record).
            latest = (api_json(api, "/api/v1/deployments?limit=1") or {}).get("deployments", [])
            step = next((s["name"] for s in (latest[0]["steps"] if latest else [])
                         if s["status"] == "running"), "idle")
            phases[step] = phases.get(step, 0) + 1
            daemon.send_signal(signal.SIGKILL)
            daemon.wait()
            t0 = time.monotonic()
            daemon = serve(binary, config)
            p = wait_for(lambda: settled(api), timeout=120)
            rows.append({"restart to settled": time.monotonic() - t0})
            running = p["commit"]
            if running not in good:
                violations.append(f"kill {k}: runs {running}, which never passed its check")
            if running in left:
                violations.append(f"kill {k}: runs {running}, which a rollback left")
            served = get(f"http://127.0.0.1:{app}/version") or ""
            if served.strip() != "main-" + running[:8]:
                violations.append(f"kill {k}: serves {served.strip()!r}, records {running[:8]}")
        deployments = api_json(api, "/api/v1/deployments?limit=1000")["deployments"]
        unfinished = [d["id"] for d in deployments if not d["finished_at"] or
                      any(s["status"] == "running" for s in d["steps"])]
        if unfinished:
            violations.append(f"deployments left running: {unfinished}")
    finally:
        stop(daemon, work)
    lines = header("Kill loop during health checks and rollbacks", "kill_loop.py", binary, kills,
                   "examples/hello, poll 100ms, health timeout 3s; each round pushes a good "
                   "version (slow-start: 1 s before it answers), a bad one (crash / unhealthy) "
                   "or asks for a rollback, waits a random 0-1.5 s, SIGKILLs anthill and starts "
                   "it again")
    lines += [f"Kills: {kills}; interrupted while: " +
              ", ".join(f"{k} {v}" for k, v in sorted(phases.items())), "",
              f"Violations: {len(violations)}" + (": " + "; ".join(violations) if violations else
                                                   " (what ran after every restart had passed its "
                                                   "check and was not a version a rollback left)"),
              ""]
    lines += summary(rows) + [""]
    publish(lines)
    sys.exit(1 if violations else 0)


if __name__ == "__main__":
    main()
