#!/usr/bin/env bash
# `make demo`: a sample git repository, Anthill serving it on SQLite, the
# first deployment done, and the URL to look at.
set -euo pipefail
anthill=$(realpath "${1:-build/anthill}")
root=$(cd "$(dirname "$0")/.." && pwd)
demo="$root/demo"
api="127.0.0.1:7070"

say() { printf '\033[1m%s\033[0m\n' "$*"; }

# A previous demo: stop its Anthill and the program it deployed.
if [[ -f "$demo/anthill.pid" ]] && kill -0 "$(cat "$demo/anthill.pid")" 2>/dev/null; then
  kill -TERM "$(cat "$demo/anthill.pid")"
  for _ in $(seq 100); do kill -0 "$(cat "$demo/anthill.pid")" 2>/dev/null || break; sleep 0.1; done
fi
if [[ -d "$demo" ]]; then
  for p in /proc/[0-9]*; do
    [[ "$(readlink "$p/cwd" 2>/dev/null)" == "$demo"/* ]] && kill -KILL "${p#/proc/}" 2>/dev/null || true
  done
  rm -rf "$demo"
fi

for port in 7070 8080; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "demo: port $port is taken by another program; free it and run 'make demo' again." >&2
    exit 1
  fi
done

mkdir -p "$demo/hello-repo"
cp "$root/examples/hello/hello.c" "$root/examples/hello/Makefile" "$demo/hello-repo/"
cp "$root/examples/anthill.toml" "$demo/anthill.toml"
git_id=(-c user.name="Anthill Demo" -c user.email=demo@example.invalid)
git -C "$demo/hello-repo" init -q -b main
git -C "$demo/hello-repo" add -A
git -C "$demo/hello-repo" "${git_id[@]}" commit -q -m "hello, first version"

"$anthill" check -c "$demo/anthill.toml"
nohup "$anthill" serve -c "$demo/anthill.toml" >"$demo/anthill.log" 2>&1 &
echo $! >"$demo/anthill.pid"
say "Anthill started (pid $(cat "$demo/anthill.pid")); waiting for the first deployment..."

deadline=$((SECONDS + 120))
status=""
while ((SECONDS < deadline)); do
  status=$(curl -fsS "http://$api/api/v1/deployments?project=hello&limit=1" 2>/dev/null |
    grep -o '"status":"[a-z_]*"' | head -1 | cut -d'"' -f4 || true)
  case "$status" in
    succeeded) break ;;
    failed | rolled_back | interrupted)
      echo "demo: the first deployment ended '$status'. The log:" >&2
      tail -n 30 "$demo/anthill.log" >&2
      exit 1 ;;
  esac
  if ! kill -0 "$(cat "$demo/anthill.pid")" 2>/dev/null; then
    echo "demo: anthill exited. The log:" >&2
    tail -n 30 "$demo/anthill.log" >&2
    exit 1
  fi
  sleep 0.2
done
if [[ "$status" != succeeded ]]; then
  echo "demo: no deployment finished within 120 s. The log:" >&2
  tail -n 30 "$demo/anthill.log" >&2
  exit 1
fi

cat <<MSG

$(say "Deployed. Open http://$api/deployments")

  The program answers:  $(curl -fsS http://127.0.0.1:8080/)
  Status:               $anthill status -c demo/anthill.toml
  Deployments:          $anthill deployments -c demo/anthill.toml

Watch a redeploy (Anthill polls every second):
  cd demo/hello-repo
  sed -i 's/hello from/hi from/' hello.c
  git -c user.name=you -c user.email=you@example.invalid commit -qam "Say hi"
  curl http://127.0.0.1:8080/

Break the build and see the old version keep serving:
  echo oops >> hello.c && git -c user.name=you -c user.email=you@example.invalid commit -qam "Break it"

Stop: kill \$(cat demo/anthill.pid)   (the program keeps running by design;
      its pid is in 'anthill status', stop it with kill too)
MSG
