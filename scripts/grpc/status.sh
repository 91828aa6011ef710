#!/usr/bin/env bash
# scripts/grpc/status.sh NAME - the state of a connector and its tasks.
set -euo pipefail
# shellcheck source=scripts/grpc/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[ $# -eq 1 ] || usage_error "NAME"
ferry_call ConnectorService/GetConnectorStatus "{\"name\": $(json_string "$1")}"
