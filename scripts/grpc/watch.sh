#!/usr/bin/env bash
# scripts/grpc/watch.sh [NAME...] - streams status changes (of the named connectors, or all),
# starting with their current status, until interrupted. The server answers UNIMPLEMENTED until
# the cluster view lands.
set -euo pipefail
# shellcheck source=scripts/grpc/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
names=""
for name in "$@"; do
  names="${names:+$names, }$(json_string "$name")"
done
ferry_call ClusterService/Watch "{\"connectors\": [$names], \"include_initial\": true}"
