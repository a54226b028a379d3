#!/usr/bin/env bash
# Runs a command under the project's toolchain: provisions what is missing (scripts/setup.sh),
# puts .tools/node/bin (Node 24 where the system Node is older) and node_modules/.bin first on
# PATH, then execs the command. npm scripts (dev, test, lint, ...) all go through here.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/setup.sh"
export PATH="$DURASYNC_ROOT/node_modules/.bin:$PATH"
exec "$@"
