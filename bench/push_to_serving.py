#!/usr/bin/env python3
"""Push-to-serving time of Anthill with poll = "1s" and a trivial build.

A real git repository (examples/hello) and a real `anthill serve` on loopback.
Each round commits a change and polls the deployed program's /version every
5 ms until it shows the new version. From the deployment's recorded steps it
splits the total into: waiting for the poll to notice (detect), the project's
own build and test, the program's own start (start + healthcheck), and what
is left: Anthill's overhead. Usage: bench/push_to_serving.py BINARY [ROUNDS]
"""

import os
import sys
import tempfile
import time

from common import (commit_change, finished_deployment, free_port, get, header, hello_config,
                    parse_time, publish, sample_repo, serve, stop, summary, wait_for)


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/anthill")
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    work = tempfile.mkdtemp(prefix="anthill-bench-")
    repo = sample_repo(os.path.join(work, "repo"))
    api, app = free_port(), free_port()
    daemon = serve(binary, hello_config(work, api, app, repo, "1s"))
    rows = []
    try:
        wait_for(lambda: get(f"http://127.0.0.1:{app}/version"), timeout=60)
        for i in range(rounds):
            sha = commit_change(repo, f"round {i}")
            t0 = time.time()
            label = "main-" + sha[:8]
            wait_for(lambda: (get(f"http://127.0.0.1:{app}/version") or "").strip() == label)
            t1 = time.time()
            d = finished_deployment(api, lambda x: x["to_commit"] == sha)
            steps = {s["name"]: s["duration_ms"] / 1000 for s in d["steps"]}
            detect = parse_time(d["started_at"]) - t0
            project = steps.get("build", 0) + steps.get("test", 0)
            program = steps.get("start", 0) + steps.get("healthcheck", 0)
            total = t1 - t0
            rows.append({"total": total, "detect": detect, "build+test": project,
                         "start+health": program, "overhead": total - detect - project - program,
                         "overhead incl. detect": total - project - program})
    finally:
        stop(daemon, work)

    lines = header("push_to_serving", "push_to_serving.py", binary, rounds,
                   'examples/hello, poll = "1s", build = "make" (nothing to recompile), '
                   "health = http every 10 ms.")
    lines += summary(rows)
    lines += ["", "detect = deployment start - commit: waiting for the next poll. Each round "
              "commits right after the previous deployment, which itself followed a poll, so "
              "detect is close to the whole 1 s interval here (push triggers remove it). "
              "overhead = total - detect - build+test - start+health: Anthill's own work "
              "(git fetch and checkout, release copy, recording, process switch).", ""]
    publish(lines)


if __name__ == "__main__":
    main()
