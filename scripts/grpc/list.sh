#!/usr/bin/env bash
# scripts/grpc/list.sh [--status] - lists the connectors' names; with --status each one's status.
set -euo pipefail
# shellcheck source=scripts/grpc/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
expand_status=false
for arg in "$@"; do
  case $arg in
    --status) expand_status=true ;;
    *) usage_error "[--status]" ;;
  esac
done
ferry_call ConnectorService/ListConnectors "{\"expand_status\": $expand_status}"
