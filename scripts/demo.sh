#!/usr/bin/env bash
# `make demo`: a sample git repository, Anthill serving it on SQLite, the
# deployment of the repository's head done, and the URL to look at.
#
# Run again, it keeps what the last run made: demo/hello-repo (with your
# commits), demo/anthill.toml and demo/anthill-data (the deployments, the
# releases). It restarts Anthill on them; the program Anthill deployed keeps
# running and the new Anthill adopts it, then deploys any commit made since.
#
# `scripts/demo.sh --stop` (`make demo-stop`) stops Anthill and the program.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd -P)
demo="$root/demo"
api="127.0.0.1:7070"

say() { printf '\033[1m%s\033[0m\n' "$*"; }

# The pid in demo/anthill.pid when it is still an anthill (not a reused pid).
demo_anthill() {
  local pid
  pid=$(cat "$demo/anthill.pid" 2>/dev/null) || return 1
  [[ -n "$pid" ]] && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q "anthill serve" &&
    echo "$pid"
}

# Processes working under demo/anthill-data: the deployed program (in its
# release dir) and any build (in the workspace).
demo_programs() {
  local p
  for p in /proc/[0-9]*; do
    [[ "$(readlink "$p/cwd" 2>/dev/null)" == "$demo/anthill-data"/* ]] && echo "${p#/proc/}"
  done
  return 0
}

stop_anthill() {
  local pid
  pid=$(demo_anthill) || return 0
  say "Stopping the demo's Anthill (pid $pid)..."
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  echo "demo: anthill (pid $pid) did not stop within 15 s; killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

if [[ "${1:-}" == "--stop" ]]; then
  stop_anthill
  pids=$(demo_programs)
  if [[ -n "$pids" ]]; then
    say "Stopping the deployed program: pid $(echo $pids | tr ' ' ',')"
    kill -TERM $pids 2>/dev/null || true
    for _ in $(seq 50); do [[ -z "$(demo_programs)" ]] && break; sleep 0.1; done
    pids=$(demo_programs)
    [[ -z "$pids" ]] || kill -KILL $pids 2>/dev/null || true
  fi
  say "The demo is stopped. demo/ is kept; 'make demo' starts it again."
  exit 0
fi

anthill=$(realpath "${1:-build/anthill}")

# A previous demo's Anthill goes; its program stays for the new one to adopt.
stop_anthill

if (exec 3<>"/dev/tcp/127.0.0.1/7070") 2>/dev/null; then
  echo "demo: port 7070 is taken by another program; free it and run 'make demo' again." >&2
  exit 1
fi
if [[ -z "$(demo_programs)" ]] && (exec 3<>"/dev/tcp/127.0.0.1/8080") 2>/dev/null; then
  echo "demo: port 8080 is taken by another program; free it and run 'make demo' again." >&2
  exit 1
fi

git_id=(-c user.name="Anthill Demo" -c user.email=demo@example.invalid)
repo="$demo/hello-repo"
if [[ -d "$repo/.git" ]]; then
  say "Keeping demo/hello-repo: $(git -C "$repo" log -1 --format='%h %s') ($(git -C "$repo" rev-list --count HEAD) commit(s))"
elif [[ -e "$repo" ]]; then
  echo "demo: $repo exists but is not a git repository; move it away and run 'make demo' again." >&2
  exit 1
else
  mkdir -p "$repo"
  cp "$root/examples/hello/hello.c" "$root/examples/hello/Makefile" "$repo/"
  git -C "$repo" init -q -b main
  git -C "$repo" add -A
  git -C "$repo" "${git_id[@]}" commit -q -m "hello, first version"
fi
if [[ -f "$demo/anthill.toml" ]]; then
  say "Keeping demo/anthill.toml"
else
  cp "$root/examples/anthill.toml" "$demo/anthill.toml"
fi
[[ -d "$demo/anthill-data" ]] && say "Keeping demo/anthill-data (the deployments and releases so far)"

"$anthill" check -c "$demo/anthill.toml"
echo "---- $(date -u +%FT%TZ) make demo" >>"$demo/anthill.log"
nohup "$anthill" serve -c "$demo/anthill.toml" >>"$demo/anthill.log" 2>&1 &
echo $! >"$demo/anthill.pid"
head=$(git -C "$repo" rev-parse HEAD)
say "Anthill started (pid $(cat "$demo/anthill.pid")); waiting for the deployment of ${head:0:8}..."

# "<id> <status>" of the newest deployment of commit $1, or nothing.
deployment_of() {
  curl -fsS "http://$api/api/v1/deployments?project=hello&limit=100" 2>/dev/null |
    python3 -c 'import json, sys
for d in json.load(sys.stdin)["deployments"]:
    if d["to_commit"] == sys.argv[1]:
        print(d["id"], d["status"])
        break' "$1" 2>/dev/null || true
}

log_tail() { tail -n 30 "$demo/anthill.log" >&2; }

deadline=$((SECONDS + 120))
id="" status=""
while ((SECONDS < deadline)); do
  read -r id status <<<"$(deployment_of "$head")" || true
  # interrupted: the last Anthill was stopped during it; this one tries again.
  case "$status" in succeeded | failed | rolled_back | cancelled) break ;; esac
  if ! kill -0 "$(cat "$demo/anthill.pid")" 2>/dev/null; then
    echo "demo: anthill exited. The log:" >&2
    log_tail
    exit 1
  fi
  sleep 0.2
done
if [[ -z "$status" || "$status" == queued || "$status" == running || "$status" == interrupted ]]; then
  echo "demo: the deployment of ${head:0:8} did not end within 120 s. The log:" >&2
  log_tail
  exit 1
fi

headline="Deployed. Open http://$api/deployments"
answer=""
for _ in $(seq 50); do
  answer=$(curl -fsS http://127.0.0.1:8080/ 2>/dev/null) && break
  sleep 0.2
done
if [[ "$status" != succeeded ]]; then
  echo "demo: deployment $id of ${head:0:8} ended '$status'; its build log: $anthill logs hello --build $id -c demo/anthill.toml" >&2
  if [[ -z "$answer" ]]; then
    echo "demo: and no earlier version is serving. The log:" >&2
    log_tail
    exit 1
  fi
  headline="The previous version keeps serving. Open http://$api/deployments"
fi

cat <<MSG

$(say "$headline")

  The program answers:  $answer
  Status:               $anthill status -c demo/anthill.toml
  Deployments:          $anthill deployments -c demo/anthill.toml

Watch a redeploy (Anthill polls every second):
  cd demo/hello-repo
  sed -i 's/hello from/hi from/' hello.c
  git -c user.name=you -c user.email=you@example.invalid commit -qam "Say hi"
  until curl -fsS http://127.0.0.1:8080/ | grep -q 'hi from'; do sleep 0.2; done; curl http://127.0.0.1:8080/

Break the build and see the old version keep serving:
  echo oops >> hello.c && git -c user.name=you -c user.email=you@example.invalid commit -qam "Break it"

Stop: make demo-stop   (or scripts/demo.sh --stop: Anthill and the program;
      'make demo' again keeps demo/ and your commits)
MSG
