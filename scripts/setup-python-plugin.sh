#!/usr/bin/env bash
# scripts/setup-python-plugin.sh - prepare what examples/python-plugin needs, outside the
# repository: a Python venv with grpcio (PyPI) and the plugin protocol's Python stubs generated
# from proto/ferry/plugin/v1/plugin.proto. Prints the directory.
#
# Usage: scripts/setup-python-plugin.sh
#
# Layout: $FERRY_CACHE_DIR/python-plugin/{venv/,stubs/ferry/plugin/v1/plugin_pb2*.py}
# The example's executable (examples/python-plugin/plugin) runs venv/bin/python with stubs/ on
# its path. Idempotent: the venv is made once, the stubs again only when the proto changes.
#
# Environment: FERRY_CACHE_DIR (default $HOME/.cache/ferry), PYTHON (default python3).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly DIR=${FERRY_CACHE_DIR:-$HOME/.cache/ferry}/python-plugin
readonly PYTHON=${PYTHON:-python3}
# Pinned: the versions the example was tested with.
readonly PACKAGES=(grpcio==1.85.1 grpcio-tools==1.85.1 grpcio-health-checking==1.85.1)

say() { printf 'setup-python-plugin: %s\n' "$*" >&2; }

command -v "$PYTHON" >/dev/null || { say "error: $PYTHON not found"; exit 1; }
mkdir -p -- "$DIR"
if [ ! -f "$DIR/venv/.complete" ]; then
  say "creating the venv in $DIR/venv (${PACKAGES[*]})"
  rm -rf -- "$DIR/venv"
  "$PYTHON" -m venv "$DIR/venv"
  "$DIR/venv/bin/pip" install -q --disable-pip-version-check "${PACKAGES[@]}" >&2
  touch "$DIR/venv/.complete"
fi
hash=$(sha256sum "$ROOT/proto/ferry/plugin/v1/plugin.proto" | cut -c1-16)
if [ "$(cat "$DIR/stubs/.complete" 2>/dev/null)" != "$hash" ]; then
  say "generating the protocol's Python stubs"
  tmp=$(mktemp -d "$DIR/.stubs.XXXXXX")
  "$DIR/venv/bin/python" -m grpc_tools.protoc -I "$ROOT/proto" --python_out="$tmp" \
    --grpc_python_out="$tmp" "$ROOT/proto/ferry/plugin/v1/plugin.proto"
  echo "$hash" >"$tmp/.complete"
  rm -rf -- "$DIR/stubs"
  mv -T -- "$tmp" "$DIR/stubs"
fi
echo "$DIR"
