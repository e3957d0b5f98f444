#!/usr/bin/env python3
"""Failed requests during deploys: the zero-downtime swap vs stop-then-start.

One run, two modes, the same sample program (examples/hello, which supports
LISTEN_FDS and sd_notify): `listen = [...]` + `ready = "notify"` (Anthill
holds the socket, starts the new version beside the old, stops the old once
the new one said READY=1), and the plain order (stop, then start; the program
binds its own port). In each mode a steady bounded load (one client, requests
back to back, 1 s timeout, loopback only) runs through DEPLOYS consecutive
deploys; reports requests, failed requests and the longest gap between two
successful answers. Usage: bench/zero_downtime.py BINARY [DEPLOYS]
"""
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from push_to_serving import ROOT, free_port, get, git, wait_for  # noqa: E402


def load(url, stop, out):
    ok = failed = 0
    last_ok = time.monotonic()
    longest_gap = 0.0
    while not stop.is_set():
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                r.read()
                good = r.status == 200
        except OSError:
            good = False
        now = time.monotonic()
        if good:
            ok += 1
            longest_gap = max(longest_gap, now - last_ok)
            last_ok = now
        else:
            failed += 1
    out.update(ok=ok, failed=failed, gap=longest_gap)


def run_mode(binary, deploys, zero_downtime):
    work = tempfile.mkdtemp(prefix="anthill-bench-")
    repo = os.path.join(work, "repo")
    os.makedirs(repo)
    for f in ("hello.c", "Makefile"):
        shutil.copy(os.path.join(ROOT, "examples", "hello", f), repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    api, app = free_port(), free_port()
    extra = (f'listen = ["tcp://127.0.0.1:{app}"]\nready = "notify"\n' if zero_downtime else "")
    config = os.path.join(work, "anthill.toml")
    with open(config, "w") as f:
        f.write(f"""[server]
listen = "127.0.0.1:{api}"
data_dir = "data"
[[project]]
name = "hello"
repo = "{repo}"
poll = "100ms"
build = "make"
run = "./hello --port {app}"
health = {{ http = "http://127.0.0.1:{app}/healthz", timeout = "10s", interval = "10ms" }}
{extra}""")
    log = open(os.path.join(work, "anthill.log"), "w")
    daemon = subprocess.Popen([binary, "serve", "-c", config], stdout=log, stderr=log)
    result = {}
    try:
        wait_for(lambda: get(f"http://127.0.0.1:{app}/version"), timeout=60)
        stop = threading.Event()
        t = threading.Thread(target=load, args=(f"http://127.0.0.1:{app}/", stop, result))
        t.start()
        for i in range(deploys):
            with open(os.path.join(repo, "CHANGES"), "w") as f:
                f.write(f"deploy {i}\n")
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "-m", f"deploy {i}")
            sha = subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=repo).decode().strip()
            d = wait_for(lambda: next((x for x in json.loads(
                get(f"http://127.0.0.1:{api}/api/v1/deployments?limit=3") or '{"deployments":[]}'
            )["deployments"] if x["to_commit"] == sha and x["finished_at"]), None))
            if d["status"] != "succeeded":
                raise SystemExit(f"bench: deploy {i} ended {d['status']}: {d['error']}")
        stop.set()
        t.join()
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
    return result


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/anthill")
    deploys = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    swap = run_mode(binary, deploys, True)
    plain = run_mode(binary, deploys, False)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = [f"## zero_downtime, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", "",
             f"Command: `bench/zero_downtime.py {os.path.relpath(binary, ROOT)} {deploys}`  ",
             f"Machine: {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, {platform.platform()}  ",
             f"Setup: examples/hello, {deploys} consecutive deploys per mode, one client sending "
             "GET / back to back on loopback (1 s timeout) throughout.", "",
             "| mode | requests | failed | longest gap (s) |", "| --- | --- | --- | --- |",
             f"| zero-downtime swap (listen + ready = notify) | {swap['ok'] + swap['failed']} | "
             f"{swap['failed']} | {swap['gap']:.3f} |",
             f"| stop, then start | {plain['ok'] + plain['failed']} | {plain['failed']} | "
             f"{plain['gap']:.3f} |", ""]
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(ROOT, "bench", "RESULTS.md"), "a") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
