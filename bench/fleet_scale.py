#!/usr/bin/env python3
"""A fleet of simulated agents against real orchestrators (issue 16's scale runs).

Starts a PostgreSQL 15 of its own (as fleet_bench.py does), ORCHESTRATORS
`anthill serve` processes on it (roles orchestrator + builder + agent; one
project `app` from a local git repository with `build = "true"`, poll = "0",
`machines = ["sim-*"]`, `rollout = { batch = "10%", min_healthy = "0s",
pause = "0s" }`) and bench/fleet_sim (build/fleet_sim) with AGENTS simulated
agents spread over the orchestrators' URLs, each switch taking START_TIME.
The first commit is rolled out until every agent runs it; then one more
commit is pushed (POST /notify) and its rollout measured:

- per batch: the span from its first machine's switch (its first stop,
  start or healthcheck step) to its last machine's healthcheck end (GET
  /api/v1/deployments/ID: steps and machines rows), and that span beyond
  START_TIME; the gaps between batches (one batch's end to the next's
  first switch: the orchestrator's turn-around), each in two parts (the
  batch's end to the orchestrator's judging its last machine, its machines
  row's finished_at; that to the next batch's first switch); the whole
  rollout from `started_at` to `finished_at`;
- the orchestrators' RSS (VmRSS, max over samples every 0.5 s) and CPU
  seconds (utime + stime) over the rollout; PostgreSQL's connections (max of
  pg_stat_activity client backends) and CPU seconds (every postgres
  process);
- from fleet_sim's counters: p50/p99 of report and long-poll answers, bytes
  the agents received, reports sent and acknowledged.

Writes the result as JSON (OUT, default bench/fleet_scale-AGENTS.json) and
prints it. Everything on loopback; bounded by TIMEOUT seconds.

FAULT (optional) breaks something once a quarter of the measured rollout's
machines have switched, and the run then checks what users rely on:
- `agents`: 10 % of the agents die (their requests abandoned) and come
  back 60 s later with what they knew;
- `orchestrator`: kill -9 of the orchestrator holding the project (run
  with ORCHESTRATORS >= 2; the others go on);
- `postgres`: PostgreSQL restarted (`pg_ctl restart -m fast`);
- `builder`: the orchestrators do not build (roles orchestrator + agent);
  two `anthill serve --role builder` processes do, and the build takes 5 s
  (`sleep 5`); the builder that took the measured commit's job is killed
  with -9 two seconds into its build, so that the job waits out its lease
  and the other builder builds it as attempt 2. Strikes before the rollout,
  not at a quarter of it: a build comes first.
After it, once every agent runs the new commit and no deployment is
unfinished (or TIMEOUT): every deployment's status, steps left `running`,
machines left unended (waiting, fetching, fetched, switching) in a
finished deployment, and the report ids the agents had acknowledged against agent_reports'
rows (lost: acknowledged, not kept; twice: two rows of one step key).

With PG_STATS=1 in the environment, PostgreSQL loads pg_stat_statements
and the result lists the 15 statements that took longest over the measured
rollout (wall time: on a busy machine that includes waiting for a core).
KEEP_LOGS=DIR copies each Anthill's log there before the run's directory
is removed.

Usage: bench/fleet_scale.py BINARY FLEET_SIM AGENTS [ORCHESTRATORS] [START_TIME] [OUT] [FAULT]
"""

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import urllib.error
from datetime import datetime

from common import free_port, git, wait_for
from fleet_bench import Anthill, Postgres, api_call, kill_under, pg_binary, remove_tree

TOKEN = "fleet-bench-token"  # fleet_bench's api_call sends this one
TIMEOUT = 1800


def orchestrator_config(api, database, repo, builds=True):
    roles = "" if builds else 'roles = ["orchestrator", "agent"]\n'
    build = "true" if builds else "sleep 5"
    return f"""[server]
listen = "127.0.0.1:{api}"
data_dir = "data"
machine = "orchestrator-{api}"
database = "{database}"
token = "{TOKEN}"
{roles}
[[project]]
name = "app"
repo = "{repo}"
poll = "0"
build = "{build}"
run = "true"
machines = ["sim-*"]
rollout = {{ batch = "10%", min_healthy = "0s", pause = "0s", agent_timeout = "5m" }}
"""


def builder_config(name, database, api):
    return f"""[server]
data_dir = "data"
machine = "{name}"
database = "{database}"
token = "{TOKEN}"
roles = ["builder"]

[builder]
name = "{name}"
orchestrator = "http://127.0.0.1:{api}"
"""


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def postgres_pids():
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{pid}/exe").endswith("/postgres"):
                out.append(int(pid))
        except OSError:
            pass
    return out


def postgres_cpu_seconds():
    total = 0.0
    for pid in postgres_pids():
        try:
            total += proc_cpu_seconds(pid)
        except OSError:
            pass  # a backend that ended meanwhile
    return total


def parse_time(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def answers(api):
    try:
        return api_call(api, "GET", "/healthz") is not None
    except OSError:
        return False


def head(repo):
    return subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=repo, text=True).strip()


def converged(pg, commit, agents):
    """Every agent reported running commit (read from the database: GET
    /api/v1/machines every second would be a load of its own at 10,000)."""
    running = pg.psql("SELECT count(*) FROM agent_desired WHERE project = 'app' AND "
                      f"reported LIKE '%\"running_commit\":\"{commit}\"%'")
    return int(running) >= agents


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    binary, fleet_sim = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    agents = int(sys.argv[3])
    orchestrators = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    start_time = float(sys.argv[5]) if len(sys.argv) > 5 else 2.0
    out_file = sys.argv[6] if len(sys.argv) > 6 and sys.argv[6] != "-" else os.path.join(
        os.path.dirname(__file__), f"fleet_scale-{agents}.json")
    fault = sys.argv[7] if len(sys.argv) > 7 else ""
    if fault not in ("", "agents", "orchestrator", "postgres", "builder"):
        sys.exit(f"unknown FAULT {fault!r}")
    if fault == "orchestrator" and orchestrators < 2:
        sys.exit("FAULT orchestrator needs ORCHESTRATORS >= 2")
    deadline = time.monotonic() + TIMEOUT
    # 10,000 agents hold up to two connections each (a long poll, a report):
    # more than the 20,000 descriptors a process may have here by default.
    # The run raises the limit for its children as a service manager would
    # (systemd's LimitNOFILE=); without the privilege to, it keeps it.
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536))
    except (ValueError, OSError):
        pass

    work = tempfile.mkdtemp(prefix="anthill-fleet-scale-", dir="/tmp")
    os.chmod(work, 0o755)
    pg = Postgres(work)
    daemons, sim = [], None
    builders = {}
    try:
        repo = os.path.join(work, "origin")
        os.makedirs(repo)
        with open(os.path.join(repo, "VERSION"), "w") as f:
            f.write("1\n")
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "first")
        apis = [free_port() for _ in range(orchestrators)]
        for api in apis:
            d = Anthill(binary, os.path.join(work, f"orchestrator-{api}"),
                        orchestrator_config(api, pg.url(), repo, builds=fault != "builder"))
            d.start()
            daemons.append(d)
        for api in apis:
            wait_for(lambda: answers(api), timeout=60, every=0.1)
        api = apis[0]
        if fault == "builder":
            for name in ("builder-1", "builder-2"):
                builders[name] = Anthill(binary, os.path.join(work, name),
                                         builder_config(name, pg.url(), api))
                builders[name].start()

        # The agents: registered by fleet_sim, started over 10 s.
        stats_file = os.path.join(work, "sim.json")
        sim_log = open(os.path.join(work, "fleet_sim.log"), "ab")
        sim = subprocess.Popen(
            [fleet_sim, "--server", ",".join(f"http://127.0.0.1:{a}" for a in apis),
             "--agents", str(agents),
             # Several orchestrators need an artifact store they all reach
             # (S3; README): with store = "orchestrator" an agent asking
             # another orchestrator for the artifact finds none. No agent
             # downloads then.
             "--verify", "10" if orchestrators == 1 else "0", "--server-token", TOKEN,
             "--tokens", os.path.join(work, "sim.tokens"), "--start-time", f"{round(start_time * 1000)}ms",
             "--ramp", "10s", "--stats", stats_file, "--duration", f"{TIMEOUT}s",
             "--acked-ids", os.path.join(work, "acked.ids"),
             *(["--kill-fraction", "0.1", "--kill-after-runs", str(agents + agents // 4),
                "--revive-after", "60s"] if fault == "agents" else [])],
            cwd=work, stdout=sim_log, stderr=sim_log)
        sim_log.close()

        def sim_stats():
            try:
                with open(stats_file) as f:
                    return json.load(f)
            except (OSError, ValueError):
                return None
        wait_for(lambda: (sim_stats() or {}).get("alive") == agents,
                 timeout=max(60, agents / 20))
        # Heard from by the orchestrators (else the first rollout finds them silent).
        wait_for(lambda: int(pg.psql(
            "SELECT count(*) FROM agents WHERE last_seen_at_ms IS NOT NULL")) >= agents,
            timeout=max(60, agents / 20), every=1)
        first = head(repo)
        api_call(api, "POST", "/api/v1/projects/app/notify", {})
        wait_for(lambda: converged(pg, first, agents), timeout=deadline - time.monotonic(),
                 every=1)

        # The measured rollout.
        with open(os.path.join(repo, "VERSION"), "w") as f:
            f.write("2\n")
        git(repo, "commit", "-q", "-am", "second")
        second = head(repo)
        pids = [d.proc.pid for d in daemons]
        cpu0 = {pid: proc_cpu_seconds(pid) for pid in pids}
        pg_cpu0 = postgres_cpu_seconds()
        sim_cpu0 = proc_cpu_seconds(sim.pid)
        # CPU seconds used so far, every half second: who is busy when, on
        # the 2 cores everything shares.
        cpu_timeline = []
        if os.environ.get("PG_STATS"):
            pg.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            pg.psql("SELECT pg_stat_statements_reset()")
        before = sim_stats()
        # With every agent's long poll parked and nothing going on.
        rss_idle = {pid: proc_rss_mb(pid) for pid in pids}
        rss_max = {pid: 0.0 for pid in pids}
        pg_connections = 0
        api_errors = []
        api_call(api, "POST", "/api/v1/projects/app/notify", {})
        started = time.monotonic()
        result = None
        faulted_at = None
        killed_builder = None
        while time.monotonic() < deadline:
            if fault == "builder" and faulted_at is None:
                # Two seconds into the build of the measured commit's job.
                taken = pg.psql(
                    "SELECT builder FROM build_jobs WHERE status = 'running' AND commit_sha = "
                    f"'{second}' AND started_at < (extract(epoch FROM now()) * 1000)::bigint "
                    "- 2000").strip()
                if taken:
                    faulted_at = time.monotonic()
                    builders[taken].proc.kill()
                    builders[taken].proc.wait()
                    builders[taken].proc = None
                    killed_builder = taken
            if fault in ("orchestrator", "postgres") and faulted_at is None \
                    and (sim_stats() or {}).get("runs_done", 0) >= agents + agents // 4:
                faulted_at = time.monotonic()
                if fault == "postgres":
                    subprocess.run(pg.server_user([pg_binary("pg_ctl"), "restart", "-D", pg.data,
                                                   "-m", "fast", "-w", "-s", "-l",
                                                   os.path.join(pg.dir, "postgres.log")]),
                                   check=True)
                else:
                    holder = pg.psql("SELECT machine FROM project_holders WHERE project = 'app'")
                    victim = next(d for d, a in zip(daemons, apis)
                                  if holder.strip() == f"orchestrator-{a}")
                    victim.proc.kill()
                    victim.proc.wait()
                    i = daemons.index(victim)
                    pids.remove(victim.proc.pid)
                    apis.pop(i)
                    daemons.pop(i)
                    victim.proc = None
                    api = apis[0]
                continue
            for pid in pids:
                rss_max[pid] = max(rss_max[pid], proc_rss_mb(pid))
            cpu_timeline.append([round(time.monotonic() - started, 2),
                                 round(sum(proc_cpu_seconds(p) - cpu0[p] for p in pids), 2),
                                 round(proc_cpu_seconds(sim.pid) - sim_cpu0, 2),
                                 round(postgres_cpu_seconds() - pg_cpu0, 2)])
            # One query for what the loop watches: the API's listing would
            # fold 40,000 steps per deployment at each look (70 ms of
            # PostgreSQL's time at 10,000 agents, twice a second), load the
            # run itself adds.
            done_id, unfinished, connections = (int(x) for x in pg.psql(
                "SELECT coalesce((SELECT max(id) FROM deployments WHERE to_commit = "
                f"'{second}' AND finished_at IS NOT NULL), 0) || ' ' || (SELECT count(*) FROM "
                "deployments WHERE finished_at IS NULL) || ' ' || (SELECT count(*) FROM "
                "pg_stat_activity WHERE backend_type = 'client backend' AND pid <> "
                "pg_backend_pid())").split())
            pg_connections = max(pg_connections, connections)
            if done_id and (not fault or (unfinished == 0 and converged(pg, second, agents))):
                try:
                    result = api_call(api, "GET", f"/api/v1/deployments/{done_id}")
                except (urllib.error.URLError, OSError) as e:  # counted, and asked again
                    body = e.read()[:200] if isinstance(e, urllib.error.HTTPError) else b""
                    api_errors.append(f"{e} {body!r}")
            if result:
                break
            time.sleep(0.5)
        if not result:
            raise SystemExit("the rollout did not finish in time")
        cpu = {pid: proc_cpu_seconds(pid) - cpu0[pid] for pid in pids}
        checks = {}
        if fault:
            # What a user relies on after the fault, once everything settled.
            listed = api_call(api, "GET", "/api/v1/deployments?limit=20")["deployments"]
            checks["deployments"] = {d["id"]: d["status"] for d in listed}
            sim.terminate()
            sim.wait(timeout=60)
            with open(os.path.join(work, "acked.ids")) as f:
                acked = set(f.read().split())
            kept = set(pg.psql("SELECT id FROM agent_reports").split())
            checks.update({
                "deployments_unfinished": int(pg.psql(
                    "SELECT count(*) FROM deployments WHERE finished_at IS NULL")),
                "steps_running": int(pg.psql("SELECT count(*) FROM steps WHERE status = 'running'")),
                # A finished deployment's machine still "switching": a part
                # nobody will end.
                "machine_rows_unended": int(pg.psql(
                    "SELECT count(*) FROM deployment_machines m JOIN deployments d ON "
                    "d.id = m.deployment_id WHERE d.finished_at IS NOT NULL AND m.status IN "
                    "('waiting', 'fetching', 'fetched', 'switching')")),
                "step_keys_twice": int(pg.psql(
                    "SELECT count(*) - count(DISTINCT agent_key) FROM steps "
                    "WHERE agent_key IS NOT NULL")),
                "reports_acked": len(acked),
                "reports_kept": len(kept),
                "reports_lost": len(acked - kept),
                "reports_kept_not_acked": len(kept - acked),
                "faulted_after_s": round(faulted_at - started, 3) if faulted_at else None,
            })
            if fault == "builder":
                # The measured commit's job: who built it, in which attempt,
                # and what became of the killed builder's steps.
                checks["killed_builder"] = killed_builder
                checks["build_job"] = pg.psql(
                    "SELECT status || ' ' || attempt || ' ' || coalesce(builder, '') FROM "
                    f"build_jobs WHERE commit_sha = '{second}' ORDER BY id DESC LIMIT 1").strip()
                checks["build_steps"] = pg.psql(
                    "SELECT string_agg(name || ':' || status, ' ' ORDER BY id) FROM steps WHERE "
                    f"deployment_id = {result['id']} AND name IN ('fetch', 'build', 'test', 'release', "
                    "'upload')").strip()
        pg_cpu = postgres_cpu_seconds() - pg_cpu0
        sim_cpu = proc_cpu_seconds(sim.pid) - sim_cpu0 if sim.poll() is None else None
        top_statements = None
        if os.environ.get("PG_STATS"):
            top_statements = pg.psql(
                "SELECT round(total_exec_time::numeric) || ' ms, ' || calls || ' calls, ' || rows "
                "|| ' rows: ' || left(regexp_replace(query, '\\s+', ' ', 'g'), 160) FROM "
                "pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15").strip().split("\n")
        after = sim_stats()
        if after is None:
            raise SystemExit("fleet_sim wrote no stats")

        # A machine's switch: its first phase-2 step's start to its
        # healthcheck's end; a batch's span: its first switch to its last end.
        switch = {}
        for st in result.get("steps", []):
            if st.get("machine") and st["name"] in ("stop", "start", "healthcheck") \
                    and st.get("finished_at"):
                w = switch.setdefault(st["machine"], [float("inf"), 0.0])
                w[0] = min(w[0], parse_time(st["started_at"]))
                w[1] = max(w[1], parse_time(st["finished_at"]))
        batches = {}
        for m in result.get("machines", []):
            if m["machine"] in switch:
                begin, end = switch[m["machine"]]
                b = batches.setdefault(m["batch"], [float("inf"), 0.0, 0])
                b[0] = min(b[0], begin)
                b[1] = max(b[1], end)
                b[2] += 1
        spans = {b: round(end - begin, 3) for b, (begin, end, _) in sorted(batches.items())}
        ordered = [batches[b] for b in sorted(batches)]
        gaps = [round(nxt[0] - cur[1], 3) for cur, nxt in zip(ordered, ordered[1:])]
        # A gap in two parts: the batch's last switch's end to the moment the
        # orchestrator judged its last machine (the report's way in), and
        # that to the next batch's first switch (telling the next batch).
        judged = {}
        for m in result.get("machines", []):
            if m["machine"] in switch and m.get("finished_at"):
                judged[m["batch"]] = max(judged.get(m["batch"], 0.0), parse_time(m["finished_at"]))
        order = sorted(batches)
        gap_parts = [[round(judged[b] - batches[b][1], 3), round(batches[n][0] - judged[b], 3)]
                     for b, n in zip(order, order[1:]) if b in judged]
        total = parse_time(result["finished_at"]) - parse_time(result["started_at"])
        # Phase 1 (build, every machine told to fetch and heard back) and the
        # rest: the deployment's start to its first switch.
        first_switch = min((b[0] for b in batches.values()), default=None)
        before_switch = round(first_switch - parse_time(result["started_at"]), 3) \
            if first_switch else None
        statuses = {}
        for m in result.get("machines", []):
            statuses[m["status"]] = statuses.get(m["status"], 0) + 1
        out = {
            "command": " ".join(["bench/fleet_scale.py", *sys.argv[1:]]),
            "machine": f"{platform.node()}, {os.cpu_count()} cores, {platform.platform()}",
            "date": datetime.now().isoformat(timespec="seconds"),
            "agents": agents,
            "orchestrators": orchestrators,
            "start_time_s": start_time,
            "deployment": {"id": result["id"], "status": result["status"],
                           "machines": statuses, "total_s": round(total, 3)},
            "before_first_switch_s": before_switch,
            "batches": len(spans),
            "batch_span_s": spans,
            "batch_beyond_start_s_max": round(max(spans.values(), default=0) - start_time, 3),
            "batch_gap_s": gaps,
            "batch_gap_heard_told_s": gap_parts,
            "orchestrator_rss_mb_idle": {str(p): round(v, 1) for p, v in rss_idle.items()},
            "orchestrator_rss_mb_max": {str(p): round(v, 1) for p, v in rss_max.items()},
            "orchestrator_cpu_s": {str(p): round(v, 2) for p, v in cpu.items()},
            "postgres_connections_max": pg_connections,
            "postgres_cpu_s": round(pg_cpu, 2),
            "fleet_sim_cpu_s": round(sim_cpu, 2) if sim_cpu is not None else None,
            "cpu_timeline_s": {"columns": ["s since notify", "orchestrators", "fleet_sim",
                                           "postgres"], "rows": cpu_timeline},
            "report": after["report"],
            "poll_changed": after["poll_changed"],
            "poll_unchanged": after["poll_unchanged"],
            "bytes_received_during": after["bytes_received"] - before["bytes_received"],
            "reports_sent": after["reports_sent"],
            "reports_acked": after["reports_acked"],
            "reports_acked_twice": after["reports_acked_twice"],
            "requests_failed": after["requests_failed"],
            "requests_failed_by": after.get("failures", {}),
            "script_api_errors": api_errors,
            "fault": fault,
            "checks": checks,
            **({"postgres_top_statements": top_statements} if top_statements else {}),
        }
        with open(out_file, "w") as f:
            json.dump(out, f, indent=1)
        print(json.dumps(out, indent=1))
    except BaseException:
        for d in [*daemons, *builders.values()]:
            sys.stderr.write(f"---- {d.home}/anthill.log (tail)\n{d.log()[-4000:]}\n")
        try:
            with open(os.path.join(work, "fleet_sim.log"), errors="replace") as f:
                sys.stderr.write(f"---- fleet_sim.log (tail)\n{f.read()[-4000:]}\n")
        except OSError:
            pass
        raise
    finally:
        if sim and sim.poll() is None:
            sim.terminate()
            try:
                sim.wait(timeout=30)
            except subprocess.TimeoutExpired:
                sim.kill()
                sim.wait()
        for d in [*daemons, *builders.values()]:
            d.stop()
        if os.environ.get("KEEP_LOGS"):
            import shutil
            for d in [*daemons, *builders.values()]:
                shutil.copy(os.path.join(d.home, "anthill.log"),
                            os.path.join(os.environ["KEEP_LOGS"], os.path.basename(d.home) + ".log"))
            shutil.copy(os.path.join(work, "fleet_sim.log"), os.environ["KEEP_LOGS"])
        kill_under(work)
        pg.stop()
        remove_tree(work)


if __name__ == "__main__":
    main()
