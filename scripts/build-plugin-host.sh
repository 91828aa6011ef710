#!/usr/bin/env bash
# scripts/build-plugin-host.sh - build Ferry's JVM plugin host (plugin-host/, Maven, Java 17)
# into a cache outside the repository and print the directory a worker runs it from.
#
# Usage: scripts/build-plugin-host.sh [--print-dir]
#
# The build is keyed by a hash of plugin-host/ and proto/ferry/plugin/: an unchanged tree is
# not rebuilt (idempotent, a no-op after the first run). The result is
#   $FERRY_CACHE_DIR/plugin-host/<hash>/{ferry-plugin-host.jar,lib/*.jar}
# and $FERRY_CACHE_DIR/plugin-host/current points at the newest build. A worker finds the host
# there by default (worker key plugin.host.dir or FERRY_PLUGIN_HOST_DIR override it).
# Maven runs offline (-o) when everything is in ~/.m2 already, online once otherwise.
#
# Environment: FERRY_CACHE_DIR (default $HOME/.cache/ferry).
# Exit codes: 0 ok (the directory on stdout), 1 build failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly CACHE=${FERRY_CACHE_DIR:-$HOME/.cache/ferry}/plugin-host

say() { printf 'build-plugin-host: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

command -v mvn >/dev/null || die "mvn not found (apt-get install -y maven)"
command -v java >/dev/null || die "java not found (Java 17+)"

hash=$(cd "$ROOT" && find plugin-host/pom.xml plugin-host/src proto/ferry/plugin -type f -print0 \
  | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
out=$CACHE/$hash
if [ -f "$out/.complete" ]; then
  ln -sfn "$hash" "$CACHE/current"
  say "up to date: $out"
  echo "$out"
  exit 0
fi

mkdir -p -- "$CACHE"
work=$(mktemp -d "$CACHE/.build.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
# Build in a copy so that target/ never appears in the repository.
mkdir -p "$work/src"
cp -a "$ROOT/plugin-host" "$work/src/plugin-host"
mkdir -p "$work/src/proto/ferry"
cp -a "$ROOT/proto/ferry/plugin" "$work/src/proto/ferry/plugin"
rm -rf -- "$work/src/plugin-host/target"
say "building the plugin host (mvn package, Java 17) in $work"
if ! mvn -B -q -o -f "$work/src/plugin-host/pom.xml" package </dev/null >"$work/mvn.log" 2>&1; then
  say "offline build failed; resolving from Maven Central once"
  if ! mvn -B -q -f "$work/src/plugin-host/pom.xml" package </dev/null >"$work/mvn.log" 2>&1; then
    cat -- "$work/mvn.log" >&2
    die "mvn package failed (output above)"
  fi
fi
mkdir -p "$work/out"
cp "$work/src/plugin-host/target/ferry-plugin-host-0.1.0.jar" "$work/out/ferry-plugin-host.jar"
cp -a "$work/src/plugin-host/target/lib" "$work/out/lib"
touch "$work/out/.complete"
rm -rf -- "$out"
mv -T -- "$work/out" "$out"
ln -sfn "$hash" "$CACHE/current"
say "built $out ($(find "$out/lib" -name '*.jar' | wc -l) library jars)"
echo "$out"
