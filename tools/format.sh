#!/bin/bash
# Formats every .c and .h of csand with clang-format 14 and the project's
# .clang-format; with --check, changes nothing and lists the files that
# differ (exit 1 if any). The cli test format-check runs the latter.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
check=false
[ "${1:-}" = --check ] && check=true

cf=$(command -v clang-format-14 || command -v clang-format || true)
if [ -z "$cf" ]; then
        echo "format.sh: clang-format (14) is not installed" >&2
        exit 2
fi

if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        mapfile -t files < <(git -C "$src" ls-files '*.c' '*.h')
else
        mapfile -t files < <(cd "$src" && find . -name '*.[ch]' -not -path './build*' | sed 's|^\./||' | sort)
fi

paths=("${files[@]/#/$src/}")
if ! $check; then
        exec "$cf" --style=file -i "${paths[@]}"
fi
# One clang-format for every file; it names each one that would change
# (and fails then: hence no pipefail here).
set +o pipefail
bad=$("$cf" --style=file --dry-run -Werror "${paths[@]}" 2>&1 |
        sed -n "s|^$src/\([^:]*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*|\1|p" | sort -u)
[ -z "$bad" ] && exit 0
echo "$bad"
exit 1
