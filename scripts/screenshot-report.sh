#!/usr/bin/env bash
# Renders a report.html with headless Chromium into a PNG, to check that it looks right in a
# real browser (install Chromium with `apt-get install -y chromium`).
#
#   scripts/screenshot-report.sh [REPORT_HTML] [OUT_PNG] [HEIGHT]
#
# Defaults: output/base/report.html, <report dir>/report-screenshot.png, 4000 px high (the
# window is 1400 px wide). Exits 0 with a message, and writes nothing, when Chromium is absent.
set -euo pipefail
report=${1:-output/base/report.html}
shot=${2:-$(dirname "$report")/report-screenshot.png}
height=${3:-4000}

browser=""
for candidate in chromium chromium-browser google-chrome; do
  if command -v "$candidate" > /dev/null 2>&1; then
    browser=$(command -v "$candidate")
    break
  fi
done
if [ -z "$browser" ]; then
  echo "screenshot-report: skipped: no Chromium found (apt-get install -y chromium)"
  exit 0
fi
if [ ! -f "$report" ]; then
  echo "screenshot-report: $report does not exist (run: dealsim run scenarios/base.toml)" >&2
  exit 1
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
url="file://$(cd "$(dirname "$report")" && pwd)/$(basename "$report")"
"$browser" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$profile" \
  --screenshot="$shot" --window-size="1400,$height" "$url" > /dev/null 2>&1
test -s "$shot" || { echo "screenshot-report: Chromium wrote no screenshot" >&2; exit 1; }
echo "screenshot-report: wrote $shot"
