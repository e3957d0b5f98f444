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

import os
import subprocess
import sys
import tempfile
import time

from common import (commit_change, finished_deployment, free_port, get, git, header, hello_config,
                    parse_time, post, publish, sample_repo, serve, stop, summary, wait_for)


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/anthill")
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    work = tempfile.mkdtemp(prefix="anthill-bench-")
    clone, bare = sample_repo(os.path.join(work, "clone")), os.path.join(work, "hello.git")
    subprocess.run(["git", "clone", "-q", "--bare", clone, bare], check=True)
    api, app = free_port(), free_port()
    config = hello_config(work, api, app, bare, "0")
    hook = os.path.join(bare, "hooks", "post-receive")
    with open(hook, "w") as f:
        f.write(f"""#!/bin/sh
while read old new ref; do
  '{binary}' notify hello -c '{config}' --ref "$ref" --commit "$new" || true
done
""")
    os.chmod(hook, 0o755)
    daemon = serve(binary, config)
    push_rows, rollback_rows = [], []
    try:
        wait_for(lambda: get(f"http://127.0.0.1:{app}/version"), timeout=60)
        for i in range(rounds):
            sha = commit_change(clone, f"round {i}")
            t0 = time.time()
            git(clone, "push", "-q", bare, "main")
            t1 = time.time()
            label = "main-" + sha[:8]
            wait_for(lambda: (get(f"http://127.0.0.1:{app}/version") or "").strip() == label)
            t2 = time.time()
            d = finished_deployment(api, lambda x: x["to_commit"] == sha)
            start = parse_time(d["started_at"])
            push_rows.append({"push began -> deployment started": start - t0,
                              "push returned -> deployment started": start - t1,
                              "git push (incl. hook)": t1 - t0,
                              "push began -> new version serving": t2 - t0})
        for i in range(rounds):
            t0 = time.time()
            answer = post(f"http://127.0.0.1:{api}/api/v1/projects/hello/rollback",
                          {"actor": "bench"})
            dep_id = answer["deployment"]
            d = finished_deployment(api, lambda x: x["id"] == dep_id)
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
        stop(daemon, work)

    lines = header("triggers", "triggers.py", binary, rounds,
                   "examples/hello in a bare repository with a post-receive hook calling "
                   '`anthill notify`, poll = "0", build = "make", health = http every 10 ms.')
    lines += [f"Push to deployment start ({rounds} pushes):", ""]
    lines += summary(push_rows)
    lines += ["", f"Rollback without building ({rounds} rollbacks, alternating between the last "
              "two releases):", ""]
    lines += summary(rollback_rows)
    lines += ["", "A negative 'push returned -> deployment started' means the deployment had "
              "started before `git push` returned (the hook runs inside the push). 'anthill's "
              "part' of a rollback = POST -> serving minus the program's own start and health "
              "check; it includes stopping the old program.", ""]
    publish(lines)


if __name__ == "__main__":
    main()
