#!/usr/bin/env bash
# `make demo-fleet`: the fleet of README's "A fleet" on one machine. A
# PostgreSQL 15 of its own, an orchestrator (roles orchestrator + agent: it
# keeps the record and the queue, serves the UI and runs the program) and two
# builders (they take the build jobs and upload the releases to it), all
# deploying a sample git repository; it waits for the deployment of the
# repository's head and prints which builder built it and the URLs.
#
# Everything lives in demo-fleet/: hello-repo (the git repository),
# orchestrator.toml, builder-1.toml, builder-2.toml, their data dirs, logs and
# pid files, and pg/ (the PostgreSQL cluster, unless PostgreSQL's user cannot
# reach it there, see pg_home). Run again, it keeps all of it (your commits,
# your edits to the configs, the record in PostgreSQL), restarts the three
# Anthills on it (the program still running is adopted, not restarted) and
# deploys what you committed since.
#
# `scripts/demo_fleet.sh --stop` (`make demo-fleet-stop`) stops the three
# Anthills, the program and PostgreSQL; demo-fleet/ is kept.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd -P)
demo="$root/demo-fleet"
api="127.0.0.1:7071"  # the orchestrator's API and UI (`make demo` has 7070)
app_port=8081         # the program's (`make demo`'s serves on 8080)
pg_port=55433         # PostgreSQL's on 127.0.0.1 (not 5432: a system server may have it)
pg_bin=/usr/lib/postgresql/15/bin  # Debian keeps these out of PATH
names=(orchestrator builder-1 builder-2)

say() { printf '\033[1m%s\033[0m\n' "$*"; }
die() {
  echo "demo-fleet: $*" >&2
  exit 1
}
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# initdb and postgres refuse to run as root (a server that can be made to run
# code must not own the machine): as root they run as the `postgres` user, as
# src/testing/postgres.cc does, and that user owns the cluster's directory.
as_pg() {
  if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}

# Where the cluster lives: demo-fleet/pg, or /tmp/anthill-demo-fleet-pg-$UID
# when (as root) the postgres user cannot enter demo-fleet (a repository
# under /root, say), or when the socket's path would be longer than a Unix
# socket may be (107 bytes). One already made wins, so that --stop and a
# second run find the one the first run made.
pg_home() {
  local here="$demo/pg" there="/tmp/anthill-demo-fleet-pg-$UID"
  if [[ -f "$here/data/PG_VERSION" ]]; then echo "$here"; return; fi
  if [[ -f "$there/data/PG_VERSION" ]]; then echo "$there"; return; fi
  if (("${#here}" + ${#pg_port} + 11 > 107)); then echo "$there"; return; fi
  if ((EUID == 0)) && ! runuser -u postgres -- test -x "$demo" 2>/dev/null; then
    echo "$there"
    return
  fi
  echo "$here"
}

# The pid in demo-fleet/<name>.pid when it is still that anthill (not a reused pid).
fleet_anthill() {
  local pid
  pid=$(cat "$demo/$1.pid" 2>/dev/null) || return 1
  [[ -n "$pid" ]] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "serve -c $demo/$1.toml" &&
    echo "$pid"
}

# Processes working under one of the given dirs: the deployed program (in its
# release dir under orchestrator-data) and any build (in a workspace).
processes_under() {
  local p cwd dir
  for p in /proc/[0-9]*; do
    cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
    for dir in "$@"; do
      [[ "$cwd" == "$dir"/* ]] && echo "${p#/proc/}" && break
    done
  done
  return 0
}
fleet_programs() { processes_under "$demo/orchestrator-data" "$demo"/builder-*-data; }

# SIGTERM to the three at once, then up to 15 s for them to end (a clean stop
# ends the builds and writes what is left to PostgreSQL), then SIGKILL.
stop_anthills() {
  local name pid pids=()
  for name in "${names[@]}"; do
    pid=$(fleet_anthill "$name") || continue
    say "Stopping $name (pid $pid)..."
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid")
  done
  ((${#pids[@]})) || return 0
  local alive
  for _ in $(seq 150); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "demo-fleet: anthill pid $pid did not stop within 15 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

stop_programs() {
  local pids
  mapfile -t pids < <(fleet_programs)
  ((${#pids[@]})) || return 0
  say "Stopping the deployed program and any build: pid $(IFS=,; echo "${pids[*]}")"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 50); do [[ -z "$(fleet_programs)" ]] && return 0; sleep 0.1; done
  mapfile -t pids < <(fleet_programs)
  ((${#pids[@]})) && kill -KILL "${pids[@]}" 2>/dev/null
  return 0
}

stop_postgres() {
  local pg
  pg=$(pg_home)
  [[ -x "$pg_bin/pg_ctl" && -f "$pg/data/PG_VERSION" ]] || return 0
  as_pg "$pg_bin/pg_ctl" status -D "$pg/data" >/dev/null 2>&1 || return 0
  say "Stopping PostgreSQL ($pg)..."
  as_pg "$pg_bin/pg_ctl" stop -D "$pg/data" -m fast -w -s
}

if [[ "${1:-}" == "--stop" ]]; then
  # Anthills first: the orchestrator would start the program again, and they
  # write to PostgreSQL until they end.
  stop_anthills
  stop_programs
  stop_postgres
  say "The fleet demo is stopped. demo-fleet/ is kept; 'make demo-fleet' starts it again."
  exit 0
fi

anthill=$(realpath -m "${1:-build/anthill}")
[[ -x "$anthill" ]] || die "$anthill is not an executable; 'make demo-fleet' builds it."
for tool in initdb pg_ctl psql; do
  [[ -x "$pg_bin/$tool" ]] ||
    die "$pg_bin/$tool is missing: PostgreSQL 15 is not installed; run scripts/install-deps.sh"
done
if ((EUID == 0)) && ! getent passwd postgres >/dev/null; then
  die "running as root and there is no 'postgres' user to run PostgreSQL as; run scripts/install-deps.sh (postgresql-15 makes it)"
fi

# The last run's Anthills go; its program stays for the new orchestrator to adopt.
stop_anthills

if port_taken "${api#*:}"; then
  die "port ${api#*:} is taken by another program; free it and run 'make demo-fleet' again."
fi
if [[ -z "$(processes_under "$demo/orchestrator-data")" ]] && port_taken "$app_port"; then
  die "port $app_port is taken by another program; free it and run 'make demo-fleet' again."
fi
mkdir -p "$demo"

# ---- PostgreSQL: a cluster of its own, trust auth, reachable on its socket
# and on 127.0.0.1 only.
pg=$(pg_home)
if [[ "$pg" != "$demo/pg" ]]; then
  say "The PostgreSQL cluster is in $pg (the postgres user cannot enter $demo, or its socket path would be too long)"
fi
if [[ -f "$pg/data/PG_VERSION" ]]; then
  say "Keeping the PostgreSQL cluster in $pg/data"
elif [[ -e "$pg/data" ]]; then
  die "$pg/data exists but is not a PostgreSQL cluster (an initdb that failed?); remove it and run 'make demo-fleet' again."
else
  say "Creating a PostgreSQL 15 cluster in $pg/data..."
  [[ -d "$pg" ]] || mkdir -m 700 "$pg"  # (its parent: demo-fleet/ or /tmp)
  ((EUID == 0)) && chown postgres: "$pg"
  # -A trust: no password (the URL holds none); only this socket and
  # 127.0.0.1 reach it. --no-sync, C locale: fast, the same everywhere.
  as_pg "$pg_bin/initdb" -D "$pg/data" -U postgres -A trust -E UTF8 --locale=C \
    --no-sync --no-instructions >"$demo/initdb.log" 2>&1 ||
    { cat "$demo/initdb.log" >&2; die "initdb failed (above)"; }
  # fsync off: a demo's database need not survive a power cut.
  as_pg tee -a "$pg/data/postgresql.conf" >/dev/null <<CONF

# scripts/demo_fleet.sh
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$pg'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
max_connections = 30
CONF
fi
if as_pg "$pg_bin/pg_ctl" status -D "$pg/data" >/dev/null 2>&1; then
  say "Keeping PostgreSQL running (port $pg_port)"
else
  port_taken "$pg_port" &&
    die "port $pg_port (the demo's PostgreSQL) is taken by another program; free it and run 'make demo-fleet' again."
  # -w: returns once the server accepts connections (or gave up after 30 s).
  if ! as_pg "$pg_bin/pg_ctl" start -D "$pg/data" -l "$pg/postgres.log" -w -t 30 -s; then
    tail -n 20 "$pg/postgres.log" >&2
    die "PostgreSQL did not start; its log is $pg/postgres.log (above)"
  fi
  say "PostgreSQL started on 127.0.0.1:$pg_port (socket in $pg)"
fi
psql=("$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$pg" -p "$pg_port" -U postgres -d postgres)
if [[ "$("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'anthill'")" != 1 ]]; then
  "${psql[@]}" -c "CREATE DATABASE anthill"
fi

# ---- The sample repository, as scripts/demo.sh makes it.
git_id=(-c user.name="Anthill Demo" -c user.email=demo@example.invalid)
repo="$demo/hello-repo"
if [[ -d "$repo/.git" ]]; then
  say "Keeping demo-fleet/hello-repo: $(git -C "$repo" log -1 --format='%h %s') ($(git -C "$repo" rev-list --count HEAD) commit(s))"
elif [[ -e "$repo" ]]; then
  die "$repo exists but is not a git repository; move it away and run 'make demo-fleet' again."
else
  mkdir -p "$repo"
  cp "$root/examples/hello/hello.c" "$root/examples/hello/Makefile" "$repo/"
  git -C "$repo" init -q -b main
  git -C "$repo" add -A
  git -C "$repo" "${git_id[@]}" commit -q -m "hello, first version"
fi

# ---- The configs; one that exists is kept (with your edits).
database="postgresql://postgres@127.0.0.1:$pg_port/anthill"
write_config() {
  if [[ -f "$demo/$1.toml" ]]; then
    say "Keeping demo-fleet/$1.toml"
  else
    cat >"$demo/$1.toml"
  fi
}
write_config orchestrator <<TOML
# The fleet demo's orchestrator (scripts/demo_fleet.sh). It watches hello-repo,
# queues the builds for the builders, keeps the record in PostgreSQL, serves
# the API and the UI, and, being the agent too, runs the program.
# Relative paths are resolved against this file's directory.

[server]
listen   = "$api"
data_dir = "./orchestrator-data"
machine  = "demo-orchestrator"     # fixed: a restart re-adopts the program it runs
database = "$database"   # trust auth: no password
roles    = ["orchestrator", "agent"]   # no builder: builder-1 and builder-2 build

[[project]]
name    = "hello"
repo    = "./hello-repo"
branch  = "main"
poll    = "1s"                  # look for new commits every second (with jitter)
build   = "make"                # run by a builder, in its own workspace
test    = "test -x hello"       # a failing test blocks the deploy
run     = "./hello --port $app_port" # started in the release dir, own process group
health  = { http = "http://127.0.0.1:$app_port/healthz", timeout = "10s" }
stop_timeout  = "5s"            # SIGTERM, then SIGKILL after this
keep_releases = 5
TOML
for n in 1 2; do
  write_config "builder-$n" <<TOML
# A builder of the fleet demo (scripts/demo_fleet.sh): it takes build jobs
# from the queue in PostgreSQL, builds and tests them in builder-$n-data and
# uploads the release to the orchestrator. It serves no API and needs no
# [[project]]. Relative paths are resolved against this file's directory.

[server]
data_dir = "./builder-$n-data"
machine  = "demo-builder-$n"
database = "$database"
roles    = ["builder"]

[builder]
name         = "builder-$n"
orchestrator = "http://$api"    # where releases are uploaded
TOML
done
for name in "${names[@]}"; do
  "$anthill" check -c "$demo/$name.toml" >/dev/null ||
    die "demo-fleet/$name.toml has an error (above); fix it, or remove it for a fresh one."
done

# ---- The three Anthills, the orchestrator first (the builders upload to it).
for name in "${names[@]}"; do
  echo "---- $(date -u +%FT%TZ) make demo-fleet" >>"$demo/$name.log"
  nohup "$anthill" serve -c "$demo/$name.toml" >>"$demo/$name.log" 2>&1 &
  echo $! >"$demo/$name.pid"
done
head=$(git -C "$repo" rev-parse HEAD)
say "Started orchestrator (pid $(cat "$demo/orchestrator.pid")), builder-1 (pid $(cat "$demo/builder-1.pid")), builder-2 (pid $(cat "$demo/builder-2.pid")); waiting for the deployment of ${head:0:8}..."

# "<id> <status>" of the newest deployment of commit $1, or nothing.
deployment_of() {
  curl -fsS "http://$api/api/v1/deployments?project=hello&limit=100" 2>/dev/null |
    python3 -c 'import json, sys
for d in json.load(sys.stdin)["deployments"]:
    if d["to_commit"] == sys.argv[1]:
        print(d["id"], d["status"])
        break' "$1" 2>/dev/null || true
}

log_tail() {
  echo "---- demo-fleet/$1.log (the end):" >&2
  tail -n 30 "$demo/$1.log" >&2
}

deadline=$((SECONDS + 120))
id="" status=""
while ((SECONDS < deadline)); do
  read -r id status <<<"$(deployment_of "$head")" || true
  # interrupted: the last orchestrator was stopped during it; this one tries again.
  case "$status" in succeeded | failed | rolled_back | cancelled) break ;; esac
  for name in "${names[@]}"; do
    if ! kill -0 "$(cat "$demo/$name.pid")" 2>/dev/null; then
      log_tail "$name"
      die "$name exited (its log above)."
    fi
  done
  sleep 0.2
done
if [[ -z "$status" || "$status" == queued || "$status" == running || "$status" == interrupted ]]; then
  log_tail orchestrator
  "$anthill" queue -c "$demo/orchestrator.toml" >&2 || true
  die "the deployment of ${head:0:8} did not end within 120 s (status '${status:-none}'); the orchestrator's log and the queue are above."
fi

# Who built it: each builder logs "builder builder-N: job J (deployment D), ...".
# Printed as "builder-N (build job J)".
built_by=$(grep -hoE "builder builder-[0-9]+: job [0-9]+ \(deployment $id\)" "$demo"/builder-*.log 2>/dev/null |
  tail -n 1 | sed -E 's/^builder ([^:]+): job ([0-9]+).*/\1 (build job \2)/' || true)

headline="Deployed. Open http://$api/"
answer=""
for _ in $(seq 50); do
  answer=$(curl -fsS "http://127.0.0.1:$app_port/" 2>/dev/null) && break
  sleep 0.2
done
if [[ "$status" != succeeded ]]; then
  # A builder keeps its build logs on its machine: data_dir/logs/build/<id>.log.
  echo "demo-fleet: deployment $id of ${head:0:8} ended '$status'; see http://$api/deployments/$id and the build log, demo-fleet/${built_by%% *}-data/logs/build/$id.log" >&2
  if [[ -z "$answer" ]]; then
    log_tail orchestrator
    die "and no earlier version is serving."
  fi
  headline="The previous version keeps serving. Open http://$api/"
fi

cfg="demo-fleet/orchestrator.toml"
cat <<MSG

$(say "$headline")

  Deployment $id of ${head:0:8}: $status
  Built by:             ${built_by:-(no builder log names deployment $id; see demo-fleet/builder-*.log)}
  The program:          http://127.0.0.1:$app_port/ answers: $answer
  The UI:               http://$api/   (deployments: http://$api/deployments)
  Deployments, queue:   $anthill deployments -c $cfg
                        $anthill queue -c $cfg
  Logs:                 demo-fleet/orchestrator.log, builder-1.log, builder-2.log; $pg/postgres.log

Push a new commit and watch the next deployment (the orchestrator polls every second):
  cd demo-fleet/hello-repo
  sed -i 's/hello from/hi from/' hello.c
  git -c user.name=you -c user.email=you@example.invalid commit -qam "Say hi"
  until curl -fsS http://127.0.0.1:$app_port/ | grep -q 'hi from'; do sleep 0.2; done; curl http://127.0.0.1:$app_port/
  grep -h 'builder builder-.: job' ../builder-*.log | tail -n 2    # which builder took it

Stop: make demo-fleet-stop   (or scripts/demo_fleet.sh --stop: the three Anthills,
      the program and PostgreSQL; 'make demo-fleet' again keeps demo-fleet/ and your commits)
MSG
