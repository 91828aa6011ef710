#!/usr/bin/env bash
# scripts/kafka.sh - run a real Apache Kafka (KRaft, combined broker+controller)
# on this machine, for tests and users. The jars come from Maven Central via mvn
# (no release tarball needed) and are cached outside the repository.
#
# Usage: scripts/kafka.sh start|stop|status [--nodes 1|3 | --secure] [--fresh]
#
#   start    fetch the jars (first use only), format the storage (only when the
#            data dir has no meta.properties yet), start the node(s) and wait until
#            the broker answers a metadata request (kcat -L). No-op when running.
#   stop     SIGTERM the pids in the pid files, SIGKILL after ~20 s. Without
#            --nodes it stops every node (both layouts) that has a pid file.
#   status   print running/stopped per node; exit 0 if all running, 3 if not.
#
#   --nodes 1   one node: broker 127.0.0.1:9092, controller 9093 (default)
#   --nodes 3   three nodes: brokers 127.0.0.1:19092,29092,39092, controllers
#               19093/29093/39093, static quorum
#   --secure    one secured node, its own state dir ($FERRY_KAFKA_DIR/secure); ports from
#               $FERRY_KAFKA_SECURE_PORT (default 19094) up:
#                 127.0.0.1:19094  SASL_SSL, SCRAM-SHA-512 (user ferry, password ferry-secret;
#                                  also user ferry-alt, password ferry-alt-secret)
#                 127.0.0.1:19095  SSL with required client certificates (mTLS)
#                 127.0.0.1:19096  PLAINTEXT, inter-broker and for test set-up only
#                 127.0.0.1:19097  controller (PLAINTEXT)
#                 127.0.0.1:19098  SASL_PLAINTEXT, OAUTHBEARER with Kafka's unsecured
#                                  validator (unsecured JWTs, any subject)
#                 127.0.0.1:19099  SASL_SSL, OAUTHBEARER validating signed JWTs
#                                  (OAuthBearerValidatorCallbackHandler) against the JWKS
#                                  file certs/oauth-jwks.json (audience ferry-test-kafka,
#                                  issuer ferry-test-idp); certs/oauth-signing.key is its RSA
#                                  key (kid ferry-test), for a test's token endpoint
#               Certificates are made with openssl/keytool at the first start into
#               $FERRY_KAFKA_DIR/secure/certs (kept across restarts; all store passwords
#               are ferry-secret): ca.pem (the CA), truststore.jks / truststore.p12 (the CA,
#               for clients), client.p12 / client.jks (a client key pair signed by the CA,
#               for the mTLS listener), client.pem + client.key (the same as PEM),
#               untrusted-truststore.jks (a CA that signed nothing: for failure tests),
#               server.p12 (the broker's key pair, SAN 127.0.0.1 and localhost). SCRAM users
#               are created at format time (kafka-storage format --add-scram).
#   --fresh     start only: wipe the data dir(s) of the layout first (refused
#               while any of its nodes runs)
#
# Environment:
#   FERRY_KAFKA_DIR            runtime state: <node>/{data,server.properties,kafka.log,kafka.pid}
#                              (default /tmp/ferry-kafka; nodes: single, node1..node3)
#   FERRY_CACHE_DIR            jar cache root; jars in $FERRY_CACHE_DIR/kafka-<version>/lib
#                              (default $HOME/.cache/ferry)
#   FERRY_KAFKA_SECURE_PORT    first port of --secure (default 19094; six ports are used)
#   FERRY_KAFKA_START_TIMEOUT  seconds start waits for readiness (default 90)
#   FERRY_KAFKA_HEAP_OPTS      JVM heap flags (default -Xms256m -Xmx512m, 3 nodes and
#                              --secure -Xmx384m)
#   FERRY_JAVA                 java binary (default /usr/bin/java, Java 17+)
#
# Exit codes: 0 ok, 1 failure, 2 usage error, 3 (status) not all nodes running.
set -euo pipefail

readonly KAFKA_VERSION=4.3.1
readonly LOG4J_VERSION=2.26.1
readonly SLF4J_VERSION=2.0.20
# Broker runtime only (kafka_2.13 pulls kafka-server, -metadata, -raft, -storage,
# kafka-clients, ... transitively). No connect-* jars here. The logging jars are
# explicit because only the release tarball adds the slf4j -> log4j2 binding;
# without it the broker runs but logs nothing.
readonly KAFKA_ARTIFACTS=(
  "org.apache.kafka:kafka_2.13:${KAFKA_VERSION}"
  "org.slf4j:slf4j-api:${SLF4J_VERSION}"
  "org.apache.logging.log4j:log4j-api:${LOG4J_VERSION}"
  "org.apache.logging.log4j:log4j-core:${LOG4J_VERSION}"
  "org.apache.logging.log4j:log4j-slf4j2-impl:${LOG4J_VERSION}"
)
readonly DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
readonly STATE_DIR=${FERRY_KAFKA_DIR:-/tmp/ferry-kafka}
readonly KAFKA_HOME=${FERRY_CACHE_DIR:-$HOME/.cache/ferry}/kafka-${KAFKA_VERSION}
readonly LIB=$KAFKA_HOME/lib
readonly JAVA=${FERRY_JAVA:-/usr/bin/java}
readonly START_TIMEOUT=${FERRY_KAFKA_START_TIMEOUT:-90}
readonly STOP_TIMEOUT=20
readonly HOST=127.0.0.1

# Resolved by resolve_classes (verified against the downloaded jars).
KAFKA_MAIN_CLASS=kafka.Kafka
STORAGE_TOOL_CLASS=kafka.tools.StorageTool

say() { printf 'kafka.sh: %s\n' "$*"; }
warn() { printf 'kafka.sh: warning: %s\n' "$*" >&2; }
die() { printf 'kafka.sh: error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat >&2 <<EOF
usage: scripts/kafka.sh start|stop|status [--nodes 1|3 | --secure] [--fresh]
  env: FERRY_KAFKA_DIR (default /tmp/ferry-kafka), FERRY_CACHE_DIR (default ~/.cache/ferry)
EOF
  exit 2
}

# ---------------------------------------------------------------- temp cleanup
CLEANUP_PATHS=()
cleanup() {
  local p
  for p in "${CLEANUP_PATHS[@]+"${CLEANUP_PATHS[@]}"}"; do
    rm -rf -- "$p"
  done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- node layout
# Node names: "single" (--nodes 1) or "node1 node2 node3" (--nodes 3).
layout_nodes() {
  case $1 in
    1) echo single ;;
    secure) echo secure ;;
    *) echo node1 node2 node3 ;;
  esac
}
node_dir() { echo "$STATE_DIR/$1"; }
node_pidfile() { echo "$STATE_DIR/$1/kafka.pid"; }
node_log() { echo "$STATE_DIR/$1/kafka.log"; }
node_props() { echo "$STATE_DIR/$1/server.properties"; }
node_data() { echo "$STATE_DIR/$1/data"; }
node_id() { if [[ $1 == single || $1 == secure ]]; then echo 1; else echo "${1#node}"; fi; }
node_port() {
  case $1 in
    single) echo 9092 ;;
    secure) echo $((SECURE_BASE_PORT + 2)) ;;
    *) echo "${1#node}9092" ;;
  esac
}
readonly SECURE_BASE_PORT=${FERRY_KAFKA_SECURE_PORT:-19094}
readonly SECURE_SASL_PORT=$SECURE_BASE_PORT
readonly SECURE_MTLS_PORT=$((SECURE_BASE_PORT + 1))
readonly SECURE_OAUTH_UNSECURED_PORT=$((SECURE_BASE_PORT + 4))
readonly SECURE_OAUTH_JWT_PORT=$((SECURE_BASE_PORT + 5))
readonly OAUTH_KEY_ID=ferry-test
readonly OAUTH_AUDIENCE=ferry-test-kafka
readonly OAUTH_ISSUER=ferry-test-idp
readonly SECURE_PASSWORD=ferry-secret
secure_certs() { echo "$STATE_DIR/secure/certs"; }
node_controller_port() { echo $(($(node_port "$1") + 1)); }

# ---------------------------------------------------------------- processes
# Prints the pid of a running broker for node $1; fails when it is not running.
# "Running" = pid file holds a live java process whose command line is kafka.Kafka
# with this node's server.properties (guards against recycled pids). An empty
# /proc/<pid>/cmdline (zombie) counts as not running.
running_pid() {
  local pidfile pid
  pidfile=$(node_pidfile "$1")
  [[ -f $pidfile ]] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  pid_is_node "$pid" "$1" || return 1
  echo "$pid"
}

pid_is_node() {
  local pid=$1 name=$2 comm cmdline
  comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
  [[ $comm == java ]] || return 1
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *" $KAFKA_MAIN_CLASS "* && $cmdline == *"$(node_props "$name")"* ]]
}

# True while process $1 exists and is not a zombie (whatever it runs).
pid_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# After launching node $1 as pid $2: wait (up to 10 s) until the forked shell
# has exec'd into the broker's java, so the pid checks below are meaningful.
wait_exec() {
  local i
  for ((i = 0; i < 100; i++)); do
    pid_is_node "$2" "$1" && return 0
    pid_alive "$2" || return 1
    sleep 0.1
  done
  return 1
}

# Removes the pid file of node $1 when its process is gone.
clean_stale_pidfile() {
  local pidfile
  pidfile=$(node_pidfile "$1")
  if [[ -f $pidfile ]] && ! running_pid "$1" >/dev/null; then
    say "$1: removing stale pid file $pidfile (pid $(<"$pidfile") is not a running broker)"
    rm -f -- "$pidfile"
  fi
}

port_open() { (: <>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# ---------------------------------------------------------------- jars
artifact_stamp() { printf '%s\n' "${KAFKA_ARTIFACTS[@]}"; }

lib_complete() {
  [[ -f $LIB/.artifacts && -f $LIB/kafka_2.13-${KAFKA_VERSION}.jar ]] &&
    [[ "$(<"$LIB/.artifacts")" == "$(artifact_stamp)" ]]
}

write_pom() {
  local a g art v
  cat <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <!-- generated by ferry scripts/kafka.sh: the jars of a Kafka ${KAFKA_VERSION} broker -->
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.ferry</groupId><artifactId>kafka-broker-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
EOF
  for a in "${KAFKA_ARTIFACTS[@]}"; do
    IFS=: read -r g art v <<<"$a"
    printf '    <dependency><groupId>%s</groupId><artifactId>%s</artifactId><version>%s</version></dependency>\n' \
      "$g" "$art" "$v"
  done
  cat <<EOF
  </dependencies>
</project>
EOF
}

ensure_jars() {
  if lib_complete; then
    say "using cached jars in $LIB"
    return
  fi
  command -v mvn >/dev/null || die "mvn not found (apt-get install -y maven)"
  mkdir -p -- "$KAFKA_HOME"
  # leftovers of interrupted downloads (older than an hour, so not a concurrent one)
  find "$KAFKA_HOME" -mindepth 1 -maxdepth 1 -name '.lib.*' -mmin +60 -exec rm -rf {} + 2>/dev/null || true
  local tmp start
  tmp=$(mktemp -d "$KAFKA_HOME/.lib.tmp.XXXXXX")
  CLEANUP_PATHS+=("$tmp")
  write_pom >"$tmp/pom.xml"
  say "downloading Kafka $KAFKA_VERSION broker jars with mvn (first use) into $LIB"
  start=$SECONDS
  if ! mvn -q -B -f "$tmp/pom.xml" "$DEPENDENCY_PLUGIN:copy-dependencies" \
      -DoutputDirectory="$tmp/lib" -DincludeScope=runtime </dev/null >"$tmp/mvn.log" 2>&1; then
    cat -- "$tmp/mvn.log" >&2
    die "mvn failed to fetch the Kafka jars (output above)"
  fi
  [[ -f $tmp/lib/kafka_2.13-${KAFKA_VERSION}.jar ]] || die "mvn finished but kafka_2.13-${KAFKA_VERSION}.jar is missing"
  artifact_stamp >"$tmp/lib/.artifacts"
  cp -- "$tmp/pom.xml" "$KAFKA_HOME/pom.xml"
  if [[ -e $LIB ]]; then
    # a lib with a different artifact list: move it aside, then swap in the new one
    local old="$KAFKA_HOME/.lib.old.$$"
    mv -T -- "$LIB" "$old"
    CLEANUP_PATHS+=("$old")
  fi
  if ! mv -T -- "$tmp/lib" "$LIB" 2>/dev/null; then
    lib_complete || die "could not move the downloaded jars to $LIB"
    say "another kafka.sh finished the download first; using it"
  fi
  say "downloaded $(find "$LIB" -name '*.jar' | wc -l) jars ($(du -sh "$LIB" | cut -f1)) in $((SECONDS - start)) s"
}

# Prints the class name of the first jar entry in $LIB matching the regex $1
# (searching kafka_2.13 first, then all jars).
find_class() {
  local pattern=$1 jar listing entry
  for jar in "$LIB/kafka_2.13-${KAFKA_VERSION}.jar" "$LIB"/*.jar; do
    # list into a variable first: grep -m1 on a pipe would SIGPIPE unzip (pipefail)
    listing=$(unzip -Z1 "$jar" 2>/dev/null) || continue
    entry=$(grep -E -m1 "$pattern" <<<"$listing") || continue
    entry=${entry%.class}
    echo "${entry//\//.}"
    return 0
  done
  return 1
}

# Verifies the broker and storage-tool class names against the jars.
resolve_classes() {
  if ! command -v unzip >/dev/null; then
    warn "unzip missing; not verifying class names ($KAFKA_MAIN_CLASS, $STORAGE_TOOL_CLASS)"
    return
  fi
  KAFKA_MAIN_CLASS=$(find_class '^kafka/Kafka\.class$') || die "kafka.Kafka not found in $LIB"
  STORAGE_TOOL_CLASS=$(find_class '(^|/)StorageTool\.class$') || die "no StorageTool class found in $LIB"
  say "classes: broker $KAFKA_MAIN_CLASS, storage tool $STORAGE_TOOL_CLASS"
}

# ---------------------------------------------------------------- kcat
ensure_kcat() {
  command -v kcat >/dev/null && return
  say "kcat missing; installing it with apt-get"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "kcat missing and not root: apt-get install kcat"
    sudo=(sudo -n)
  fi
  "${sudo[@]}" apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq kcat >/dev/null
  command -v kcat >/dev/null || die "kcat install failed"
}

# ---------------------------------------------------------------- config
java_base() {
  local heap=$1
  # shellcheck disable=SC2206  # heap flags are deliberately word-split
  JAVA_CMD=("$JAVA" ${FERRY_KAFKA_HEAP_OPTS:-$heap} -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent
    -Djava.awt.headless=true "-Dlog4j2.configurationFile=file:$STATE_DIR/log4j2.properties"
    -cp "$LIB/*")
}

write_props() {
  local name=$1 nodes=$2 id port cport
  if [[ $name == secure ]]; then
    write_secure_props
    return
  fi
  id=$(node_id "$name")
  port=$(node_port "$name")
  cport=$(node_controller_port "$name")
  {
    echo "# generated by ferry scripts/kafka.sh (rewritten at every start)"
    echo "process.roles=broker,controller"
    echo "node.id=$id"
    if [[ $nodes == 1 ]]; then
      echo "controller.quorum.bootstrap.servers=$HOST:$cport"
    else
      echo "controller.quorum.voters=1@$HOST:19093,2@$HOST:29093,3@$HOST:39093"
    fi
    echo "listeners=PLAINTEXT://$HOST:$port,CONTROLLER://$HOST:$cport"
    echo "advertised.listeners=PLAINTEXT://$HOST:$port,CONTROLLER://$HOST:$cport"
    echo "inter.broker.listener.name=PLAINTEXT"
    echo "controller.listener.names=CONTROLLER"
    echo "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    echo "log.dirs=$(node_data "$name")"
    echo "num.partitions=1"
    echo "auto.create.topics.enable=true"
    echo "log.cleaner.enable=true"
    echo "group.initial.rebalance.delay.ms=0"
    if [[ $nodes == 1 ]]; then
      echo "offsets.topic.replication.factor=1"
      echo "transaction.state.log.replication.factor=1"
      echo "transaction.state.log.min.isr=1"
      echo "share.coordinator.state.topic.replication.factor=1"
      echo "share.coordinator.state.topic.min.isr=1"
    else
      echo "offsets.topic.replication.factor=3"
      echo "transaction.state.log.replication.factor=3"
      echo "transaction.state.log.min.isr=2"
      echo "share.coordinator.state.topic.replication.factor=3"
      echo "share.coordinator.state.topic.min.isr=2"
      echo "default.replication.factor=3"
      echo "min.insync.replicas=2"
    fi
  } >"$(node_props "$name")"
}

# The secured node: SASL_SSL (SCRAM-SHA-512) and SSL (client certificates required)
# for clients, PLAINTEXT between brokers and to the controller.
write_secure_props() {
  local certs port cport
  certs=$(secure_certs)
  port=$(node_port secure)
  cport=$(node_controller_port secure)
  {
    echo "# generated by ferry scripts/kafka.sh --secure (rewritten at every start)"
    echo "process.roles=broker,controller"
    echo "node.id=1"
    echo "controller.quorum.bootstrap.servers=$HOST:$cport"
    local listeners="INTERNAL://$HOST:$port,SASL_SSL://$HOST:$SECURE_SASL_PORT,SSL://$HOST:$SECURE_MTLS_PORT"
    listeners+=",OAUTH_UNSECURED://$HOST:$SECURE_OAUTH_UNSECURED_PORT,OAUTH_JWT://$HOST:$SECURE_OAUTH_JWT_PORT"
    listeners+=",CONTROLLER://$HOST:$cport"
    local oauth_module=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule
    echo "listeners=$listeners"
    echo "advertised.listeners=$listeners"
    echo "listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL,OAUTH_UNSECURED:SASL_PLAINTEXT,OAUTH_JWT:SASL_SSL"
    echo "inter.broker.listener.name=INTERNAL"
    echo "controller.listener.names=CONTROLLER"
    echo "sasl.enabled.mechanisms=SCRAM-SHA-512"
    echo "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
    # OAUTHBEARER without a server callback handler: Kafka's unsecured validator.
    echo "listener.name.oauth_unsecured.sasl.enabled.mechanisms=OAUTHBEARER"
    echo "listener.name.oauth_unsecured.oauthbearer.sasl.jaas.config=$oauth_module required unsecuredLoginStringClaim_sub=\"broker\";"
    # OAUTHBEARER checking the signature (and exp, iat, sub) of each JWT against the JWKS file;
    # the JVM must allow its URL (org.apache.kafka.sasl.oauthbearer.allowed.urls, java_base).
    echo "listener.name.oauth_jwt.sasl.enabled.mechanisms=OAUTHBEARER"
    echo "listener.name.oauth_jwt.oauthbearer.sasl.jaas.config=$oauth_module required;"
    echo "listener.name.oauth_jwt.oauthbearer.sasl.server.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler"
    echo "listener.name.oauth_jwt.oauthbearer.sasl.oauthbearer.jwks.endpoint.url=$(oauth_jwks_url)"
    echo "listener.name.oauth_jwt.oauthbearer.sasl.oauthbearer.expected.audience=$OAUTH_AUDIENCE"
    echo "listener.name.oauth_jwt.oauthbearer.sasl.oauthbearer.expected.issuer=$OAUTH_ISSUER"
    echo "ssl.keystore.type=PKCS12"
    echo "ssl.keystore.location=$certs/server.p12"
    echo "ssl.keystore.password=$SECURE_PASSWORD"
    echo "ssl.truststore.type=PKCS12"
    echo "ssl.truststore.location=$certs/truststore.p12"
    echo "ssl.truststore.password=$SECURE_PASSWORD"
    echo "listener.name.ssl.ssl.client.auth=required"
    echo "log.dirs=$(node_data secure)"
    echo "num.partitions=1"
    echo "auto.create.topics.enable=true"
    echo "log.cleaner.enable=true"
    echo "group.initial.rebalance.delay.ms=0"
    echo "offsets.topic.replication.factor=1"
    echo "transaction.state.log.replication.factor=1"
    echo "transaction.state.log.min.isr=1"
    echo "share.coordinator.state.topic.replication.factor=1"
    echo "share.coordinator.state.topic.min.isr=1"
  } >"$(node_props secure)"
}

# Makes the CA, the broker's and a client's key pairs and every store, once (kept
# across restarts so clients' copies stay valid).
ensure_secure_certs() {
  local certs
  certs=$(secure_certs)
  if [[ -f $certs/.complete ]]; then
    say "secure: using the certificates in $certs"
    return
  fi
  command -v openssl >/dev/null || die "openssl not found"
  command -v keytool >/dev/null || die "keytool not found (it comes with the JDK)"
  say "secure: making a CA, broker and client certificates in $certs"
  rm -rf -- "$certs"
  mkdir -p -- "$certs"
  (
    cd "$certs"
    local pass=$SECURE_PASSWORD
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 \
      -subj "/CN=ferry-test-ca" 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -keyout untrusted-ca.key -out untrusted-ca.pem \
      -days 3650 -subj "/CN=ferry-untrusted-ca" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
      -subj "/CN=localhost" 2>/dev/null
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile server.ext -out server.pem 2>/dev/null
    openssl pkcs12 -export -in server.pem -inkey server.key -certfile ca.pem -name broker \
      -out server.p12 -passout "pass:$pass"
    openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr \
      -subj "/CN=ferry-client" 2>/dev/null
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -out client.pem 2>/dev/null
    openssl pkcs12 -export -in client.pem -inkey client.key -certfile ca.pem -name client \
      -out client.p12 -passout "pass:$pass"
    keytool -importkeystore -noprompt -srckeystore client.p12 -srcstoretype PKCS12 \
      -srcstorepass "$pass" -destkeystore client.jks -deststoretype JKS \
      -deststorepass "$pass" -destkeypass "$pass" >/dev/null 2>&1
    keytool -importcert -noprompt -alias ca -file ca.pem -keystore truststore.jks \
      -storetype JKS -storepass "$pass" >/dev/null 2>&1
    keytool -importcert -noprompt -alias ca -file ca.pem -keystore truststore.p12 \
      -storetype PKCS12 -storepass "$pass" >/dev/null 2>&1
    keytool -importcert -noprompt -alias other -file untrusted-ca.pem \
      -keystore untrusted-truststore.jks -storetype JKS -storepass "$pass" >/dev/null 2>&1
    rm -f -- ./*.csr ./*.srl server.ext
  ) || die "secure: making the certificates failed"
  touch "$certs/.complete"
}

oauth_jwks_url() { echo "file://$(secure_certs)/oauth-jwks.json"; }

# Makes the RSA key that signs the test JWTs and its JWKS (the broker's verification key),
# once; also into a certificate folder made before the OAUTHBEARER listeners existed.
ensure_oauth_keys() {
  local certs
  certs=$(secure_certs)
  [[ -f $certs/oauth-jwks.json ]] && return
  say "secure: making the JWT signing key and its JWKS in $certs"
  (
    cd "$certs"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out oauth-signing.key.tmp \
      2>/dev/null
    local modulus exponent
    modulus=$(openssl rsa -in oauth-signing.key.tmp -noout -modulus | sed 's/^Modulus=//')
    [[ $modulus =~ ^[0-9A-F]+$ ]] || exit 1
    # hex -> bytes -> base64url without padding (RFC 7518 6.3.1); openssl uses e = 65537
    # (AQAB) unless told otherwise.
    # shellcheck disable=SC2059  # the format string is the \xHH escapes made here
    modulus=$(printf "$(sed 's/../\\x&/g' <<<"$modulus")" | base64 -w0 | tr '+/' '-_' | tr -d '=')
    exponent=$(openssl rsa -in oauth-signing.key.tmp -noout -text | sed -n 's/^publicExponent: 65537.*/AQAB/p')
    [[ $exponent == AQAB ]] || exit 1
    printf '{"keys":[{"kty":"RSA","use":"sig","alg":"RS256","kid":"%s","n":"%s","e":"%s"}]}\n' \
      "$OAUTH_KEY_ID" "$modulus" "$exponent" >oauth-jwks.json.tmp
    mv -f oauth-signing.key.tmp oauth-signing.key
    mv -f oauth-jwks.json.tmp oauth-jwks.json
  ) || die "secure: making the JWT signing key failed"
}

# Formats the data dirs that have no meta.properties yet (same cluster id for all).
format_storage() {
  local nodes=$1; shift
  local name meta cid="" todo=()
  for name in "$@"; do
    meta="$(node_data "$name")/meta.properties"
    if [[ -f $meta ]]; then
      [[ -n $cid ]] || cid=$(sed -n 's/^cluster\.id=//p' "$meta")
    else
      todo+=("$name")
    fi
  done
  if [[ ${#todo[@]} -eq 0 ]]; then
    say "storage already formatted (cluster id $cid); reusing data in $STATE_DIR"
    return
  fi
  if [[ -z $cid ]]; then
    cid=$("${JAVA_CMD[@]}" "$STORAGE_TOOL_CLASS" random-uuid 2>/dev/null | tail -n1) ||
      die "$STORAGE_TOOL_CLASS random-uuid failed"
    [[ $cid =~ ^[A-Za-z0-9_-]{22}$ ]] || die "unexpected cluster id from random-uuid: '$cid'"
  fi
  local flags=()
  [[ $nodes == 1 ]] && flags=(--standalone)
  if [[ $nodes == secure ]]; then
    flags=(--standalone
      --add-scram "SCRAM-SHA-512=[name=ferry,password=$SECURE_PASSWORD]"
      --add-scram "SCRAM-SHA-512=[name=ferry-alt,password=ferry-alt-secret]")
  fi
  for name in "${todo[@]}"; do
    say "$name: formatting storage $(node_data "$name") (cluster id $cid)"
    local out
    if ! out=$("${JAVA_CMD[@]}" "$STORAGE_TOOL_CLASS" format "${flags[@]}" -t "$cid" \
        -c "$(node_props "$name")" 2>&1); then
      printf '%s\n' "$out" >&2
      die "$name: formatting storage failed"
    fi
  done
}

# ---------------------------------------------------------------- commands
# True when the running secured broker has every listener this script configures (one
# started by an older kafka.sh lacks the OAUTHBEARER ones).
secure_listeners_complete() {
  grep -q "OAUTH_JWT://$HOST:$SECURE_OAUTH_JWT_PORT" "$(node_props secure)" 2>/dev/null
}

cmd_status() {
  local nodes=$1 name pid all=0
  for name in $(layout_nodes "$nodes"); do
    clean_stale_pidfile "$name"
    if pid=$(running_pid "$name"); then
      if [[ $name == secure ]] && ! secure_listeners_complete; then
        say "$name: running (pid $pid) without the OAUTHBEARER listeners; restart it"
        all=3
        continue
      fi
      say "$name: running (pid $pid, $HOST:$(node_port "$name"), log $(node_log "$name"))"
    else
      say "$name: stopped"
      all=3
    fi
  done
  return "$all"
}

# Sends SIGTERM to the given nodes' brokers, waits, then SIGKILLs leftovers.
stop_nodes() {
  local name pid pids=() names=()
  for name in "$@"; do
    clean_stale_pidfile "$name"
    if pid=$(running_pid "$name"); then
      say "$name: stopping (SIGTERM to pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      names+=("$name")
    else
      say "$name: not running"
    fi
  done
  [[ ${#pids[@]} -gt 0 ]] || return 0
  local deadline=$((SECONDS + STOP_TIMEOUT)) i alive
  while :; do
    alive=0
    for i in "${!pids[@]}"; do
      pid_is_node "${pids[$i]}" "${names[$i]}" && alive=1
    done
    [[ $alive == 1 ]] || break
    if ((SECONDS >= deadline)); then
      for i in "${!pids[@]}"; do
        if pid_is_node "${pids[$i]}" "${names[$i]}"; then
          say "${names[$i]}: still alive after ${STOP_TIMEOUT} s; SIGKILL to pid ${pids[$i]}"
          kill -KILL "${pids[$i]}" 2>/dev/null || true
        fi
      done
      sleep 0.5
      break
    fi
    sleep 0.5
  done
  for name in "${names[@]}"; do
    rm -f -- "$(node_pidfile "$name")"
    say "$name: stopped"
  done
}

cmd_stop() {
  local nodes=$1 list=()
  if [[ -z $nodes ]]; then
    # no --nodes: every node of either layout that has a pid file
    local name
    for name in single node1 node2 node3 secure; do
      [[ -f $(node_pidfile "$name") ]] && list+=("$name")
    done
  else
    read -r -a list <<<"$(layout_nodes "$nodes")"
  fi
  if [[ ${#list[@]} -eq 0 ]]; then
    say "not running (no pid files in $STATE_DIR)"
    return 0
  fi
  if ! stop_nodes "${list[@]}"; then
    return 1
  fi
  local n
  for n in "${list[@]}"; do
    running_pid "$n" >/dev/null || continue
    die "$n: could not be stopped"
  done
  return 0
}

show_log_tail() {
  local name=$1 log
  log=$(node_log "$name")
  echo "----- last 40 lines of $log -----" >&2
  tail -n 40 -- "$log" >&2 2>/dev/null || echo "(no log)" >&2
  echo "-----" >&2
}

# Waits until a metadata request to the first node lists all nodes as brokers.
wait_ready() {
  local names=("$@") port expected deadline name
  port=$(node_port "${names[0]}")
  expected=${#names[@]}
  deadline=$((SECONDS + START_TIMEOUT))
  printf 'kafka.sh: waiting for %d broker(s) via kcat -b %s:%s -L (up to %s s) ' \
    "$expected" "$HOST" "$port" "$START_TIMEOUT"
  local start=$SECONDS meta count
  while :; do
    for name in "${names[@]}"; do
      if ! running_pid "$name" >/dev/null; then
        echo
        show_log_tail "$name"
        rm -f -- "$(node_pidfile "$name")"
        stop_nodes "${names[@]}"
        die "$name: broker process exited during startup (log $(node_log "$name"))"
      fi
    done
    if port_open "$port"; then
      meta=$(timeout 10 kcat -b "$HOST:$port" -L -m 2 2>/dev/null) || meta=""
      count=$(grep -cE '^ +broker [0-9]+ at ' <<<"$meta") || count=0
      if ((count >= expected)); then
        echo " ready"
        say "$expected broker(s) up after $((SECONDS - start)) s: $(
          grep -oE 'broker [0-9]+ at [^ ]+' <<<"$meta" | sed 's/^broker [0-9]* at //' | paste -sd, -)"
        return 0
      fi
    fi
    if ((SECONDS >= deadline)); then
      echo " timeout"
      for name in "${names[@]}"; do show_log_tail "$name"; done
      say "stopping the node(s) that did not become ready"
      stop_nodes "${names[@]}"
      die "broker(s) not ready after $START_TIMEOUT s"
    fi
    printf '.'
    sleep 0.5
  done
}

cmd_start() {
  local nodes=$1 fresh=$2 names name pid heap
  read -r -a names <<<"$(layout_nodes "$nodes")"

  local running=() stopped=()
  for name in "${names[@]}"; do
    clean_stale_pidfile "$name"
    if pid=$(running_pid "$name"); then running+=("$name"); else stopped+=("$name"); fi
  done
  if [[ $fresh == 1 && ${#running[@]} -gt 0 ]]; then
    die "--fresh refused: ${running[*]} running; run 'scripts/kafka.sh stop' first"
  fi
  if [[ ${#stopped[@]} -eq 0 ]]; then
    if [[ $nodes == secure ]] && ! secure_listeners_complete; then
      die "secure: running without the OAUTHBEARER listeners ($HOST:$SECURE_OAUTH_UNSECURED_PORT, $SECURE_OAUTH_JWT_PORT): it was started by an older kafka.sh; run 'scripts/kafka.sh stop --secure' first"
    fi
    for name in "${names[@]}"; do
      say "$name: already running (pid $(running_pid "$name"), $HOST:$(node_port "$name")); nothing to do"
    done
    return 0
  fi

  [[ -x $JAVA ]] || die "java not found at $JAVA (set FERRY_JAVA)"
  ensure_kcat
  ensure_jars
  resolve_classes

  # ports must be free for the nodes we are about to start
  for name in "${stopped[@]}"; do
    local p
    local ports=("$(node_port "$name")" "$(node_controller_port "$name")")
    [[ $name == secure ]] && ports+=("$SECURE_SASL_PORT" "$SECURE_MTLS_PORT"
      "$SECURE_OAUTH_UNSECURED_PORT" "$SECURE_OAUTH_JWT_PORT")
    for p in "${ports[@]}"; do
      if port_open "$p"; then
        die "$name: port $HOST:$p is already in use by a process not started by kafka.sh"
      fi
    done
  done

  case $nodes in
    1) heap="-Xms256m -Xmx512m" ;;
    secure) heap="-Xms128m -Xmx384m" ;;
    *) heap="-Xms256m -Xmx384m" ;;
  esac
  java_base "$heap"

  mkdir -p -- "$STATE_DIR"
  if [[ $nodes == secure ]]; then
    ensure_secure_certs
    ensure_oauth_keys
    JAVA_CMD=("${JAVA_CMD[0]}" "-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=$(oauth_jwks_url)"
      "${JAVA_CMD[@]:1}")
  fi
  cp -- "$SCRIPT_DIR/kafka/log4j2.properties" "$STATE_DIR/log4j2.properties"
  for name in "${names[@]}"; do
    if [[ $fresh == 1 ]]; then
      say "$name: --fresh: wiping $(node_data "$name")"
      rm -rf -- "$(node_data "$name")"
    fi
    mkdir -p -- "$(node_dir "$name")"
    write_props "$name" "$nodes"
  done
  format_storage "$nodes" "${names[@]}"

  for name in "${stopped[@]}"; do
    local log
    log=$(node_log "$name")
    [[ -f $log ]] && mv -f -- "$log" "$log.prev"
    # setsid: own session, so it survives the caller's terminal/process group;
    # 9>&-: do not inherit the kafka.sh lock.
    setsid "${JAVA_CMD[@]}" "$KAFKA_MAIN_CLASS" "$(node_props "$name")" \
      </dev/null >"$log" 2>&1 9>&- &
    pid=$!
    echo "$pid" >"$(node_pidfile "$name")"
    if ! wait_exec "$name" "$pid"; then
      sleep 0.5 # let the JVM finish writing its last words
      show_log_tail "$name"
      rm -f -- "$(node_pidfile "$name")"
      kill -TERM "$pid" 2>/dev/null || true
      stop_nodes "${stopped[@]}"
      die "$name: broker process did not start (log $log)"
    fi
    say "$name: started pid $pid (broker $HOST:$(node_port "$name"), controller $HOST:$(node_controller_port "$name")), log $log"
  done
  for name in "${running[@]+"${running[@]}"}"; do
    say "$name: already running (pid $(running_pid "$name"))"
  done

  wait_ready "${names[@]}"
  say "logs: $(for name in "${names[@]}"; do printf '%s ' "$(node_log "$name")"; done)"
}

# ---------------------------------------------------------------- main
main() {
  [[ $# -ge 1 ]] || usage
  local cmd=$1 nodes="" fresh=0
  shift
  while [[ $# -gt 0 ]]; do
    case $1 in
      --nodes)
        [[ $# -ge 2 ]] || usage
        nodes=$2
        shift 2
        ;;
      --nodes=*)
        nodes=${1#--nodes=}
        shift
        ;;
      --secure)
        nodes=secure
        shift
        ;;
      --fresh)
        fresh=1
        shift
        ;;
      -h | --help) usage ;;
      *)
        echo "kafka.sh: unknown argument: $1" >&2
        usage
        ;;
    esac
  done
  if [[ -n $nodes && $nodes != 1 && $nodes != 3 && $nodes != secure ]]; then
    echo "kafka.sh: --nodes must be 1 or 3" >&2
    usage
  fi
  [[ $fresh == 0 || $cmd == start ]] || usage

  case $cmd in
    start | stop)
      # serialize start/stop (tests may call this concurrently); fd 9 is not
      # passed on to the brokers
      mkdir -p -- "$STATE_DIR"
      exec 9>"$STATE_DIR/.lock"
      if ! flock -w 600 9; then die "timed out waiting for the lock $STATE_DIR/.lock"; fi
      if [[ $cmd == start ]]; then cmd_start "${nodes:-1}" "$fresh"; else cmd_stop "$nodes"; fi
      ;;
    status) cmd_status "${nodes:-1}" ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
