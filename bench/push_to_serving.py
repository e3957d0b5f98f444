#!/usr/bin/env python3
"""Push-to-serving time of Anthill with poll = "1s" and a trivial build.

A real git repository (examples/hello) and a real `anthill serve` on loopback.
Each round commits a change and polls the deployed program's /version every
5 ms until it shows the new version. From the deployment's recorded steps it
splits the total into: waiting for the poll to notice (detect), the project's
own build and test, the program's own start (start + healthcheck), and what
is left: Anthill's overhead. Usage: bench/push_to_serving.py BINARY [ROUNDS]
"""
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


def wait_for(pred, timeout=60.0, every=0.005):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(every)
    raise SystemExit("bench: condition not met within %.0f s" % timeout)


def parse_time(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def git(repo, *args):
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", *args],
                   cwd=repo, check=True, stdout=subprocess.DEVNULL)


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/anthill")
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    work = tempfile.mkdtemp(prefix="anthill-bench-")
    repo = os.path.join(work, "repo")
    os.makedirs(repo)
    for f in ("hello.c", "Makefile"):
        shutil.copy(os.path.join(ROOT, "examples", "hello", f), repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    api, app = free_port(), free_port()
    with open(os.path.join(work, "anthill.toml"), "w") as f:
        f.write(f"""[server]
listen = "127.0.0.1:{api}"
data_dir = "data"
[[project]]
name = "hello"
repo = "{repo}"
poll = "1s"
build = "make"
run = "./hello --port {app}"
health = {{ http = "http://127.0.0.1:{app}/healthz", timeout = "10s", interval = "10ms" }}
""")
    log = open(os.path.join(work, "anthill.log"), "w")
    daemon = subprocess.Popen([binary, "serve", "-c", os.path.join(work, "anthill.toml")],
                              stdout=log, stderr=log)
    rows = []
    try:
        wait_for(lambda: get(f"http://127.0.0.1:{app}/version"), timeout=60)
        for i in range(rounds):
            with open(os.path.join(repo, "CHANGES"), "w") as f:
                f.write(f"round {i}\n")
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "-m", f"round {i}")
            t0 = time.time()
            sha = subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=repo).decode().strip()
            label = "main-" + sha[:8]
            wait_for(lambda: (get(f"http://127.0.0.1:{app}/version") or "").strip() == label)
            t1 = time.time()
            d = wait_for(lambda: next((x for x in json.loads(
                get(f"http://127.0.0.1:{api}/api/v1/deployments?limit=5") or '{"deployments":[]}'
            )["deployments"] if x["to_commit"] == sha and x["finished_at"]), None))
            steps = {s["name"]: s["duration_ms"] / 1000 for s in d["steps"]}
            detect = parse_time(d["started_at"]) - t0
            project = steps.get("build", 0) + steps.get("test", 0)
            program = steps.get("start", 0) + steps.get("healthcheck", 0)
            total = t1 - t0
            rows.append({"total": total, "detect": detect, "build+test": project,
                         "start+health": program, "overhead": total - detect - project - program,
                         "overhead incl. detect": total - project - program})
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
    lines = [f"## push_to_serving, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", "",
             f"Command: `bench/push_to_serving.py {os.path.relpath(binary, ROOT)} {rounds}`  ",
             f"Machine: {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, {platform.platform()}  ",
             'Setup: examples/hello, poll = "1s", build = "make" (nothing to recompile), '
             "health = http every 10 ms.", "",
             "| seconds | median | min | max |", "| --- | --- | --- | --- |"]
    for key in rows[0]:
        v = [r[key] for r in rows]
        lines.append(f"| {key} | {statistics.median(v):.3f} | {min(v):.3f} | {max(v):.3f} |")
    lines += ["", "detect = deployment start - commit: waiting for the next poll. Each round "
              "commits right after the previous deployment, which itself followed a poll, so "
              "detect is close to the whole 1 s interval here (push triggers remove it). "
              "overhead = total - detect - build+test - start+health: Anthill's own work "
              "(git fetch and checkout, release copy, recording, process switch).", ""]
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(ROOT, "bench", "RESULTS.md"), "a") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
