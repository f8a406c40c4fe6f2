#!/usr/bin/env bash
# Install headless Chromium from Debian, for the report's browser test (tests/test_report.py loads the page,
# checks that every figure decodes and every table renders, and takes a screenshot).  As root with apt-get it
# installs the `chromium` package; otherwise it prints the one line to run, and that test skips saying so.
# Usage: bash scripts/install-browser.sh
set -euo pipefail
for name in chromium chromium-browser google-chrome google-chrome-stable; do
  if command -v "$name" >/dev/null 2>&1; then
    exit 0
  fi
done
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "install-browser: Chromium not installed (this needs root and apt-get); run: sudo apt-get install -y" \
       "chromium -- until then the report's browser test skips" >&2
fi
