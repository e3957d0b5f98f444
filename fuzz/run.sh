#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang++-14 in BUILD_DIR and runs each in
# turn (one at a time: they are meant to share a small machine).
#
#   fuzz/run.sh BUILD_DIR SECONDS [HARNESS...]   # `make fuzz` (FUZZ_SECONDS, default 600)
#   fuzz/run.sh BUILD_DIR 0 [HARNESS...]         # `make fuzz-regress`: each corpus once
#
# A run starts from fuzz/corpus/<name>/ (and, for hook_<forge>, from
# src/watch/testdata/<forge>/, the deliveries the unit tests check), writes
# what it adds to BUILD_DIR/corpus/<name>/ (never into the source tree), crashes to
# BUILD_DIR/artifacts/<name>-crash-*, its output to BUILD_DIR/logs/<name>.log.
# A crash worth keeping goes into fuzz/corpus/<name>/ by hand, once fixed.
# The exit status is 1 when any harness crashed.
set -uo pipefail

build=${1:?usage: fuzz/run.sh BUILD_DIR SECONDS [HARNESS...]}
seconds=${2:?usage: fuzz/run.sh BUILD_DIR SECONDS [HARNESS...]}
shift 2
src=$(cd "$(dirname "$0")" && pwd)
# The forges' deliveries watch/hooks_test checks: the hook harnesses' seeds too.
hook_testdata=$(cd "$src/../src/watch/testdata" && pwd)
all=(hook_github hook_gitlab hook_gitea hook_generic config url api_json)
names=("${@:-${all[@]}}")

cxx=$(command -v clang++-14 || true)
if [[ -z "$cxx" ]]; then
  echo "fuzz: clang++-14 not found (scripts/install-deps.sh installs clang-14 libclang-rt-14-dev)" >&2
  exit 2
fi
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" "${launcher[@]}" >/dev/null || exit 2
ninja -C "$build" >/dev/null || { ninja -C "$build"; exit 2; }
mkdir -p "$build/logs" "$build/artifacts"

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
summary=()
failed=0
for name in "${names[@]}"; do
  log="$build/logs/$name.log"
  bin="$build/${name}_fuzz"
  seeds=()
  [[ -d "$src/corpus/$name" ]] && seeds+=("$src/corpus/$name")
  [[ "$name" == hook_* ]] && seeds+=("$hook_testdata/${name#hook_}")
  if [[ "$seconds" == 0 ]]; then
    args=(-runs=0 "${seeds[@]}")
  else
    mkdir -p "$build/corpus/$name"
    args=(-max_total_time="$seconds" -timeout=10 -print_final_stats=1
          -artifact_prefix="$build/artifacts/$name-" "$build/corpus/$name" "${seeds[@]}")
  fi
  echo "fuzz: $bin ${args[*]}"
  start=$(date +%s)
  "$bin" "${args[@]}" >"$log" 2>&1
  rc=$?
  ran=$(( $(date +%s) - start ))  # less than asked when it stopped on a crash
  # The last status line ("#123 DONE cov: ... ft: ... corp: ..." or INITED)
  # and the final stats.
  status=$(grep -E '^#[0-9]+\s+(DONE|INITED|NEW|REDUCE|pulse)' "$log" | tail -1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(grep -o 'cov: [0-9]*' <<<"$status" | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' <<<"$status" | cut -d' ' -f2)
  corp=$(grep -o 'corp: [0-9]*/[0-9A-Za-z]*' <<<"$status" | cut -d' ' -f2)
  verdict="ok"
  if (( rc != 0 )); then
    verdict="CRASH (exit $rc; see $log)"
    failed=1
  fi
  summary+=("$(printf '%-13s ran=%-6s execs=%-10s exec/s=%-7s cov=%-6s ft=%-6s corpus=%-12s %s' \
    "$name" "${ran}s" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$verdict")")
  echo "${summary[-1]}"
done
echo "---- summary"
printf '%s\n' "${summary[@]}"
[[ "$seconds" == 0 ]] || ls "$build/artifacts" 2>/dev/null | sed 's/^/artifact: /'
exit $failed
