#!/usr/bin/env bash
# Installs the Debian 12 packages Anthill needs to build, test and run its demo.
# Idempotent and quiet: it asks apt only for what dpkg says is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git curl ca-certificates
  libboost-dev libboost-system-dev libtomlplusplus-dev nlohmann-json3-dev
  libsqlite3-dev libpq-dev libssl-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev sqlite3 procps python3
  chromium  # the browser tests drive it through playwright-core
  clang-14 libclang-rt-14-dev  # the libFuzzer harnesses in fuzz/
  clang-format-14  # the format test
  postgresql-15  # the server the PostgreSQL tests start (testing/postgres.h)
  libarchive-dev libcurl4-openssl-dev  # artifact/: .tar.zst archives, S3 over libcurl
  libjemalloc-dev  # the allocator anthill links (CMakeLists.txt: ANTHILL_JEMALLOC)
)
# Node.js and npm run the browser tests; a machine that has them keeps its
# own, one without gets Debian's. (playwright-core asks for Node >= 20;
# npm_install below says so when the node found is older.)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

# `npm ci` in dir (tests/browser, tests/s3) when <module> is missing there
# or its package-lock.json changed since.
npm_ci() {
  local dir="$1" module="$2"
  if [[ ! -d "$dir/node_modules/$module" || "$dir/package-lock.json" -nt "$dir/node_modules" ]]; then
    echo "install-deps: npm ci in tests/$(basename "$dir")"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    touch "$dir/node_modules"
  fi
}

# playwright-core, exactly as tests/browser/package-lock.json pins it (it
# downloads no browser: the tests use Debian's /usr/bin/chromium); s3rver,
# as tests/s3/package-lock.json pins it (the S3 server of the artifact
# tests, testing/s3rver.h).
npm_install() {
  local root
  root="$(cd "$(dirname "$0")/.." && pwd)"
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if (( major < 20 )); then
    echo "install-deps: warning: node $(node --version 2>/dev/null) is older than 20, which playwright-core (tests/browser) needs" >&2
  fi
  npm_ci "$root/tests/browser" playwright-core
  npm_ci "$root/tests/s3" s3rver
}

if [[ ${#missing[@]} -eq 0 ]]; then
  npm_install
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
npm_install
