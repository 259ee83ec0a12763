#!/usr/bin/env bash
# Copies the console's pinned npm packages (package.json) into static/vendor, where they are
# checked in and served by the console itself: pages work with no internet and no CDN.
# Run after changing a version in package.json (`make vendor`).
set -euo pipefail
cd "$(dirname "$0")"
out=src/credflow_console/static/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
htmx=$(python3 -c 'import json; print(json.load(open("package.json"))["dependencies"]["htmx.org"])')
(cd "$work" && npm pack --silent "htmx.org@$htmx" >/dev/null && tar xzf "htmx.org-$htmx.tgz")
cp "$work/package/dist/htmx.min.js" "$out/htmx.min.js"
cp "$work/package/LICENSE" "$out/htmx.LICENSE"
echo "htmx.org $htmx" > "$out/VERSIONS"
echo "vendored: $(tr '\n' ' ' < "$out/VERSIONS")"
