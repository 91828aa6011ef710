#!/usr/bin/env bash
# scripts/grpc/resume.sh NAME - resumes a paused or stopped connector.
set -euo pipefail
# shellcheck source=scripts/grpc/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[ $# -eq 1 ] || usage_error "NAME"
ferry_call ConnectorService/ResumeConnector "{\"name\": $(json_string "$1")}"
