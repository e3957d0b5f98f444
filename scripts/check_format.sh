#!/usr/bin/env bash
# Fails when a C++ file git tracks under src/, tests/, fuzz/ or bench/ differs from
# what clang-format (the root .clang-format, Google based) makes of it.
#
#   scripts/check_format.sh [--fix] [SOURCE_DIR]
set -euo pipefail
fix=0
if [[ "${1:-}" == "--fix" ]]; then
  fix=1
  shift
fi
cd "${1:-$(dirname "$0")/..}"
cf=$(command -v clang-format-14 || command -v clang-format || true)
if [[ -z "$cf" ]]; then
  echo "format: clang-format-14 not found (scripts/install-deps.sh installs clang-format-14)" >&2
  exit 1
fi
mapfile -t files < <(git ls-files 'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h' 'fuzz/*.cc' 'fuzz/*.h' 'bench/*.cc' 'bench/*.h')
if [[ $fix == 1 ]]; then
  "$cf" -i "${files[@]}"
  exit 0
fi
# One run over every file: clang-format names each file that differs in its
# warnings ("<file>:<line>:<col>: error: code should be clang-formatted").
mapfile -t bad < <("$cf" --dry-run --Werror "${files[@]}" 2>&1 |
                   sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' |
                   sort -u)
for f in "${bad[@]}"; do
  echo "format: $f differs from clang-format (scripts/check_format.sh --fix)"
done
echo "format: ${#files[@]} files, ${#bad[@]} differ"
[[ ${#bad[@]} == 0 ]]
