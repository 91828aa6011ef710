#!/usr/bin/env bash
# scripts/grpc/restart.sh NAME [--tasks] [--failed] - restarts a connector; --tasks its tasks too,
# --failed only the failed instances. With a flag it prints the restart plan.
set -euo pipefail
# shellcheck source=scripts/grpc/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
name=""
include_tasks=false
only_failed=false
for arg in "$@"; do
  case $arg in
    --tasks) include_tasks=true ;;
    --failed) only_failed=true ;;
    -*) usage_error "NAME [--tasks] [--failed]" ;;
    *) [ -z "$name" ] || usage_error "NAME [--tasks] [--failed]"; name=$arg ;;
  esac
done
[ -n "$name" ] || usage_error "NAME [--tasks] [--failed]"
ferry_call ConnectorService/RestartConnector \
  "{\"name\": $(json_string "$name"), \"include_tasks\": $include_tasks, \"only_failed\": $only_failed}"
