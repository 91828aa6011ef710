#!/usr/bin/env bash
# scripts/grpc/delete.sh NAME - deletes a connector; its tasks stop.
set -euo pipefail
# shellcheck source=scripts/grpc/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[ $# -eq 1 ] || usage_error "NAME"
ferry_call ConnectorService/DeleteConnector "{\"name\": $(json_string "$1")}"
