#!/bin/sh
# Headless Chromium renders the HTML report in tests (tests/evaluation/test_report.py).
# Installs Debian's `chromium` package when it is missing and we may (root); otherwise says why and
# exits 0 so `make test` still runs: the browser test then skips with that reason.
set -e
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: chromium missing and cannot install it (need root and apt-get); the report browser test will skip" >&2
    exit 0
fi
# apt's own output is silenced below, so say once what is happening and why it takes a while
echo "ensure-chromium: installing Debian's chromium with apt-get (for the report's browser test; a few minutes, once)" >&2
export DEBIAN_FRONTEND=noninteractive
(apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || \
    echo "ensure-chromium: apt-get install chromium failed; the report browser test will skip" >&2
exit 0
