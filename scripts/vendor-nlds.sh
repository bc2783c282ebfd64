#!/usr/bin/env bash
# Vendors the NL Design System CSS poort serves (assets/vendor/nlds/) and axe-core for the
# browser tests (tests/vendor/axe-core/) from the npm packages pinned in scripts/vendor-nlds/:
# `npm ci` installs exactly the locked versions and checks their integrity, then select.mjs
# takes the components and tokens poort uses. The output is committed: building and testing
# poort need neither npm nor the network, only changing the versions does.
#
#   scripts/vendor-nlds.sh           install and write the files
#   scripts/vendor-nlds.sh --check   write them to a scratch copy and fail if the committed
#                                    files differ (hand edits, or a forgotten run)
#   scripts/vendor-nlds.sh --update  re-resolve package-lock.json after package.json changed
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
mode=${1:-}

for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "vendor-nlds: $tool is needed (apt-get install nodejs npm); poort itself does not need it" >&2
    exit 1
  }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp scripts/vendor-nlds/package.json scripts/vendor-nlds/package-lock.json "$work/"
if [ "$mode" = "--update" ]; then
  (cd "$work" && npm install --package-lock-only --ignore-scripts --no-audit --no-fund)
  cp "$work/package-lock.json" scripts/vendor-nlds/package-lock.json
fi
# Exactly the lock's versions, integrity checked; no package's install scripts run.
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)

case "$mode" in
  --check)
    out="$work/out"
    mkdir -p "$out/assets"
    cp assets/poort.css "$out/assets/"
    node scripts/vendor-nlds/select.mjs "$work/node_modules" "$out"
    status=0
    for dir in assets/vendor/nlds tests/vendor/axe-core; do
      diff -r "$out/$dir" "$dir" >/dev/null || {
        echo "vendor-nlds: $dir differs from what the pinned packages give: run scripts/vendor-nlds.sh" >&2
        status=1
      }
    done
    exit $status
    ;;
  *)
    rm -rf assets/vendor/nlds tests/vendor/axe-core
    node scripts/vendor-nlds/select.mjs "$work/node_modules" "$root"
    ;;
esac
