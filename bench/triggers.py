#!/usr/bin/env python3
"""Push-trigger latency and rollback time of Anthill.

A real bare repository whose post-receive hook runs `anthill notify` (the
README's setup), poll = "0" so nothing but the push can start a deployment,
and a real `anthill serve` on loopback. Part 1, per round: commit in a clone,
`git push`, and read the deployment's recorded start: how long after the push
began and after it returned (negative: before `git push` even returned, since
the hook runs inside it). Part 2: `POST /api/v1/projects/hello/rollback`
alternately between the last two releases, timing POST -> the target version
answering, and splitting off the program's own start (start + healthcheck
steps). Usage: bench/triggers.py BINARY [ROUNDS]
"""
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from push_to_serving import ROOT, free_port, get, git, parse_time, wait_for  # noqa: E402


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read().decode())


def summary(rows):
    out = ["| seconds | median | min | max |", "| --- | --- | --- | --- |"]
    for key in rows[0]:
        v = [r[key] for r in rows]
        out.append(f"| {key} | {statistics.median(v):.3f} | {min(v):.3f} | {max(v):.3f} |")
    return out


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/anthill")
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    work = tempfile.mkdtemp(prefix="anthill-bench-")
    clone, bare = os.path.join(work, "clone"), os.path.join(work, "hello.git")
    os.makedirs(clone)
    for f in ("hello.c", "Makefile"):
        shutil.copy(os.path.join(ROOT, "examples", "hello", f), clone)
    git(clone, "init", "-q", "-b", "main")
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", "first")
    subprocess.run(["git", "clone", "-q", "--bare", clone, bare], check=True)
    api, app = free_port(), free_port()
    config = os.path.join(work, "anthill.toml")
    with open(config, "w") as f:
        f.write(f"""[server]
listen = "127.0.0.1:{api}"
data_dir = "data"
[[project]]
name = "hello"
repo = "{bare}"
poll = "0"
build = "make"
run = "./hello --port {app}"
health = {{ http = "http://127.0.0.1:{app}/healthz", timeout = "10s", interval = "10ms" }}
""")
    hook = os.path.join(bare, "hooks", "post-receive")
    with open(hook, "w") as f:
        f.write(f"""#!/bin/sh
while read old new ref; do
  '{binary}' notify hello -c '{config}' --ref "$ref" --commit "$new" || true
done
""")
    os.chmod(hook, 0o755)
    log = open(os.path.join(work, "anthill.log"), "w")
    daemon = subprocess.Popen([binary, "serve", "-c", config], stdout=log, stderr=log)
    base = f"http://127.0.0.1:{api}"
    push_rows, rollback_rows = [], []

    def deployment(pred):
        return wait_for(lambda: next((x for x in json.loads(
            get(base + "/api/v1/deployments?limit=5") or '{"deployments":[]}')["deployments"]
            if pred(x) and x["finished_at"]), None))

    try:
        wait_for(lambda: get(f"http://127.0.0.1:{app}/version"), timeout=60)
        for i in range(rounds):
            with open(os.path.join(clone, "CHANGES"), "w") as f:
                f.write(f"round {i}\n")
            git(clone, "add", "-A")
            git(clone, "commit", "-q", "-m", f"round {i}")
            sha = subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=clone).decode().strip()
            t0 = time.time()
            git(clone, "push", "-q", bare, "main")
            t1 = time.time()
            label = "main-" + sha[:8]
            wait_for(lambda: (get(f"http://127.0.0.1:{app}/version") or "").strip() == label)
            t2 = time.time()
            d = deployment(lambda x: x["to_commit"] == sha)
            start = parse_time(d["started_at"])
            push_rows.append({"push began -> deployment started": start - t0,
                              "push returned -> deployment started": start - t1,
                              "git push (incl. hook)": t1 - t0,
                              "push began -> new version serving": t2 - t0})
        for i in range(rounds):
            t0 = time.time()
            answer = post(base + "/api/v1/projects/hello/rollback", {"actor": "bench"})
            dep_id = answer["deployment"]
            d = deployment(lambda x: x["id"] == dep_id)
            if d["status"] != "succeeded":
                raise SystemExit(f"bench: rollback {dep_id} ended {d['status']}: {d['error']}")
            wait_for(lambda: (get(f"http://127.0.0.1:{app}/version") or "").strip() == d["to_version"])
            t1 = time.time()
            steps = {s["name"]: s["duration_ms"] / 1000 for s in d["steps"]}
            program = steps.get("start", 0) + steps.get("healthcheck", 0)
            rollback_rows.append({"POST -> old version serving": t1 - t0,
                                  "recorded duration": d["duration_ms"] / 1000,
                                  "stop (old program exits)": steps.get("stop", 0),
                                  "start+health (program's own)": program,
                                  "anthill's part": t1 - t0 - program})
    finally:
        daemon.terminate()
        daemon.wait()
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    if os.readlink(f"/proc/{pid}/cwd").startswith(work):
                        os.kill(int(pid), 9)
                except OSError:
                    pass
        shutil.rmtree(work, ignore_errors=True)

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = [f"## triggers, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", "",
             f"Command: `bench/triggers.py {os.path.relpath(binary, ROOT)} {rounds}`  ",
             f"Machine: {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, {platform.platform()}  ",
             'Setup: examples/hello in a bare repository with a post-receive hook calling '
             '`anthill notify`, poll = "0", build = "make", health = http every 10 ms.', "",
             f"Push to deployment start ({rounds} pushes):", ""]
    lines += summary(push_rows)
    lines += ["", f"Rollback without building ({rounds} rollbacks, alternating between the last "
              "two releases):", ""]
    lines += summary(rollback_rows)
    lines += ["", "A negative 'push returned -> deployment started' means the deployment had "
              "started before `git push` returned (the hook runs inside the push). 'anthill's "
              "part' of a rollback = POST -> serving minus the program's own start and health "
              "check; it includes stopping the old program.", ""]
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(ROOT, "bench", "RESULTS.md"), "a") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
