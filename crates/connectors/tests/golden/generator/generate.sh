#!/usr/bin/env bash
# Regenerates the golden files next to this directory with the real Kafka Connect converters.
# Needs Java 17+ and Maven with access to Maven Central. The Rust tests never run this.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
deps="${FERRY_GOLDEN_DEPS:-/tmp/ferry-golden-deps}"
mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$deps"
java -cp "$deps/*" "$here/GenerateGolden.java" "$here/.."
