#!/usr/bin/env bash
# The main job: a project from the echo sample, its server started, its client
# calling it; the server is stopped before the reply is shown, so the reply is
# the last line.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${VENV_BIN:-$here/.venv/bin}"
work="$(mktemp -d)"
port="${DEMO_PORT:-18080}"
server=""
trap 'if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi; rm -rf "$work"' EXIT

cd "$work"
"$bin/volo" init echo "$here/idl_samples/echo.thrift"
"$bin/python" -m echo.server --address "127.0.0.1:$port" &
server=$!
for _ in $(seq 50); do  # until the server is listening
    if reply="$("$bin/python" -m echo.client --address "127.0.0.1:$port" 2>/dev/null)"; then
        kill -TERM "$server"
        wait "$server" || true  # it logs its shutdown
        server=""
        echo "reply from the echo server: $reply"
        exit 0
    fi
    sleep 0.2
done
echo "the echo server did not answer" >&2
exit 1
