#!/usr/bin/env bash
# Two builds side by side on the token hot paths: client_credentials and introspection, on the
# embedded default and on PostgreSQL + Redis, alternating the builds so that the machine's
# drift affects both alike. Prints requests per second per build, mode and backend.
#   bash bench/compare.sh BEFORE_BINARY AFTER_BINARY [SECONDS]
# To build the "before" binary from an earlier commit:
#   git worktree add /tmp/before REV && (cd /tmp/before && cargo build --release)
set -euo pipefail
cd "$(dirname "$0")/.."
before="$1"
after="$2"
seconds="${3:-10}"
for backend in embedded shared; do
  for mode in token introspect; do
    for round in 1 2; do
      for which in before after; do
        bin=$before
        [ "$which" = after ] && bin=$after
        rps=$(bash bench/load.sh "$bin" "$mode" "$backend" "$seconds" 2>&1 |
          awk '/^Requests\/sec:/ {print $2}')
        printf '%-10s %-10s %-6s round %s: %s req/s\n' "$backend" "$mode" "$which" "$round" "$rps"
      done
    done
  done
done
