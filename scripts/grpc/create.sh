#!/usr/bin/env bash
# scripts/grpc/create.sh FILE - creates a connector from a Kafka Connect connector file
# ({"name": ..., "config": {...}}, optionally "initial_state"), which is a valid
# CreateConnectorRequest as it is. Config values must be JSON strings. FILE "-" reads stdin.
set -euo pipefail
# shellcheck source=scripts/grpc/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[ $# -eq 1 ] || usage_error "FILE"
if [ "$1" = "-" ]; then
  ferry_call ConnectorService/CreateConnector @
else
  ferry_call ConnectorService/CreateConnector @ <"$1"
fi
