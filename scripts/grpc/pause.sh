#!/usr/bin/env bash
# scripts/grpc/pause.sh NAME - pauses a connector and its tasks.
set -euo pipefail
# shellcheck source=scripts/grpc/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[ $# -eq 1 ] || usage_error "NAME"
ferry_call ConnectorService/PauseConnector "{\"name\": $(json_string "$1")}"
