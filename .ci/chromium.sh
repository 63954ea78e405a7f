#!/usr/bin/env bash
# Headless Chromium and its WebDriver from Debian's packages, for the report.html browser test (root needed).
#   .ci/chromium.sh install    install chromium, chromium-driver and a Korean font if missing (.ci/run does this)
#   .ci/chromium.sh            print the two paths; exit 3 when they are not installed (tests never install)
# Exit 3: not here; the test skips then, or fails under SUMEXP_REQUIRE_CHROMIUM=1.
set -euo pipefail

# grep reads fc-list's whole output: with -q it would stop at the first match, fc-list would die of SIGPIPE, and
# under pipefail the font would look missing about one time in three.
installed() { command -v chromium >/dev/null && command -v chromedriver >/dev/null && fc-list 2>/dev/null | grep -i nanum >/dev/null; }

if ! installed; then
    [[ ${1:-} == install ]] || { echo "chromium, chromium-driver or fonts-nanum is not installed (as root: bash .ci/chromium.sh install)" >&2; exit 3; }
    [[ $(id -u) -eq 0 ]] || { echo "not root: cannot install chromium" >&2; exit 3; }
    command -v apt-get >/dev/null || { echo "no apt-get: cannot install chromium" >&2; exit 3; }
    apt-get update -qq
    # fonts-nanum: Korean dialogues are drawn as text, not as empty boxes, in the screenshot
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-nanum >/dev/null
fi
command -v chromium
command -v chromedriver
