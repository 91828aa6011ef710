# shellcheck shell=bash
# scripts/grpc/common.sh - sourced by the other scripts in this folder; not run on its own.
#
# Finds grpcurl ($GRPCURL, PATH, or $HOME/go/bin/grpcurl; scripts/install-grpcurl.sh installs it)
# and the server ($FERRY_GRPC, default 127.0.0.1:8083, the address `ferry dev` listens on).
# Every call uses server reflection (no .proto files) and plaintext h2c.

FERRY_GRPC=${FERRY_GRPC:-127.0.0.1:8083}

find_grpcurl() {
  if [ -n "${GRPCURL:-}" ]; then
    echo "$GRPCURL"
  elif command -v grpcurl >/dev/null 2>&1; then
    command -v grpcurl
  elif [ -x "$HOME/go/bin/grpcurl" ]; then
    echo "$HOME/go/bin/grpcurl"
  else
    echo "error: grpcurl not found; run scripts/install-grpcurl.sh (or set GRPCURL)" >&2
    exit 127
  fi
}

# Quotes a string as a JSON string (connector names have no control characters: the server
# refuses them).
json_string() {
  local text=${1//\\/\\\\}
  text=${text//\"/\\\"}
  printf '"%s"' "$text"
}

# ferry_call METHOD [JSON-BODY]: calls ferry.v1.METHOD (e.g. ConnectorService/ListConnectors);
# with body "@" the request is read from stdin.
ferry_call() {
  local method=$1
  local body=${2:-"{}"}
  local grpcurl_bin
  grpcurl_bin=$(find_grpcurl)
  "$grpcurl_bin" -plaintext -emit-defaults -d "$body" "$FERRY_GRPC" "ferry.v1.$method"
}

usage_error() {
  echo "usage: $0 $*" >&2
  exit 2
}
