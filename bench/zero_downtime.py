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

import os
import sys
import tempfile
import threading
import time
import urllib.request

from common import (commit_change, finished_deployment, free_port, get, header, hello_config,
                    publish, sample_repo, serve, stop, wait_for)


def load(url, done, out):
    ok = failed = 0
    last_ok = time.monotonic()
    longest_gap = 0.0
    while not done.is_set():
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
    repo = sample_repo(os.path.join(work, "repo"))
    api, app = free_port(), free_port()
    extra = (f'listen = ["tcp://127.0.0.1:{app}"]\nready = "notify"\n' if zero_downtime else "")
    daemon = serve(binary, hello_config(work, api, app, repo, "100ms", extra))
    result = {}
    try:
        wait_for(lambda: get(f"http://127.0.0.1:{app}/version"), timeout=60)
        done = threading.Event()
        t = threading.Thread(target=load, args=(f"http://127.0.0.1:{app}/", done, result))
        t.start()
        for i in range(deploys):
            sha = commit_change(repo, f"deploy {i}")
            d = finished_deployment(api, lambda x: x["to_commit"] == sha, limit=3)
            if d["status"] != "succeeded":
                raise SystemExit(f"bench: deploy {i} ended {d['status']}: {d['error']}")
        done.set()
        t.join()
    finally:
        stop(daemon, work)
    return result


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/anthill")
    deploys = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    swap = run_mode(binary, deploys, True)
    plain = run_mode(binary, deploys, False)
    lines = header("zero_downtime", "zero_downtime.py", binary, deploys,
                   f"examples/hello, {deploys} consecutive deploys per mode, one client sending "
                   "GET / back to back on loopback (1 s timeout) throughout.")
    lines += ["| mode | requests | failed | longest gap (s) |", "| --- | --- | --- | --- |",
              f"| zero-downtime swap (listen + ready = notify) | {swap['ok'] + swap['failed']} | "
              f"{swap['failed']} | {swap['gap']:.3f} |",
              f"| stop, then start | {plain['ok'] + plain['failed']} | {plain['failed']} | "
              f"{plain['gap']:.3f} |", ""]
    publish(lines)


if __name__ == "__main__":
    main()
