#!/usr/bin/env bash
# scripts/grpc/watch.sh [--members] [NAME...] - streams status changes (of the named connectors,
# or all), starting with their current status, until interrupted. Each event carries a whole
# state: a connector's status with all of its tasks, `connectorDeleted`, or (with --members)
# `membersChanged`, the members and leader after a member joined, left or changed readiness.
# The stream ends with UNAVAILABLE when the worker shuts down: watch another one.
set -euo pipefail
# shellcheck source=scripts/grpc/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
members=false
names=""
for arg in "$@"; do
  case "$arg" in
    -m | --members) members=true ;;
    -h | --help) usage_error "[--members] [NAME...]" ;;
    *) names="${names:+$names, }$(json_string "$arg")" ;;
  esac
done
ferry_call ClusterService/Watch \
  "{\"connectors\": [$names], \"include_initial\": true, \"include_members\": $members}"
