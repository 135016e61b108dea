#!/usr/bin/env bash
# Installs and runs essnap's real local peers (no Docker, no AWS):
#   Elasticsearch 7.10.2, OpenSearch 1.3.1, 2.19.1 and 3.5.0 from Maven Central
#   (one JVM each; OpenSearch 3.x needs Java 21+, found by java_home below),
#   the AWS Lambda Runtime Interface Emulator (Go module),
#   aws-local-stepfunctions and asl-validator (npm ci in test/workflow),
#   moto's server for IAM and STS (scripts/install-moto.sh, into .cache/moto-venv).
# Usage:
#   scripts/peers.sh install
#   scripts/peers.sh start elasticsearch|opensearch1|opensearch|opensearch3 [NAME] [HTTP_PORT]
#     (opensearch = 2.19.1, opensearch1 = 1.3.1, opensearch3 = 3.5.0)
#   scripts/peers.sh stop [NAME|all]
#   scripts/peers.sh restart ENGINE NAME [HTTP_PORT]   (stop, then start keeping the data)
#   scripts/peers.sh url NAME
# Engines listen on 127.0.0.1 only and share one fs repository directory
# ($ESSNAP_RUN/repo), like two domains sharing one S3 bucket.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${ESSNAP_CACHE:-$ROOT/.cache}
RUN=${ESSNAP_RUN:-$CACHE/run}
RIE_VERSION=${RIE_VERSION:-latest}
log() { printf '[peers] %s\n' "$*" >&2; }
# Every engine kind: a Maven project under test/peers/<kind>.
ENGINES="elasticsearch opensearch1 opensearch opensearch3"

# java_major JAVA: the major version of a java binary (17, 21, 25).
java_major() {
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1
}

# java_home ENGINE: prints the java binary that runs ENGINE. OpenSearch 3.x
# is compiled for Java 21: it takes $ESSNAP_JAVA21 if set, else the first
# JDK >= 21 under /usr/lib/jvm, else fails naming the fix. The others run on
# the default java (JDK 17).
java_home() {
  local need=17 j
  [[ $1 == opensearch3 ]] && need=21
  for j in ${ESSNAP_JAVA21:+$ESSNAP_JAVA21/bin/java} "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
    [[ -x $j ]] || continue
    local m; m=$(java_major "$j")
    if [[ -n $m && $m -ge $need ]]; then echo "$j"; return 0; fi
  done
  log "no Java $need+ found for $1 (looked at \$ESSNAP_JAVA21, java on PATH, /usr/lib/jvm/*): install a JDK $need or newer (e.g. Temurin 21/25) and set ESSNAP_JAVA21=<its home>"
  exit 1
}

classpath() { # engine
  local pom=$ROOT/test/peers/$1/pom.xml cp=$CACHE/peers/$1.cp
  if [[ ! -s $cp || $pom -nt $cp ]]; then
    mkdir -p "$CACHE/peers"
    log "resolving $1 from Maven Central"
    mvn -q -B -f "$pom" dependency:build-classpath -Dmdep.outputFile="$cp" >&2
  fi
  cat "$cp"
}

# launcher ENGINE: compiles test/peers/launcher for ENGINE's runner (once,
# again when the source or the classpath changes) and prints its directory.
launcher() {
  local src=EssnapOpenSearch
  [[ $1 == elasticsearch ]] && src=EssnapElasticsearch
  local out=$CACHE/peers/launcher-$1 java javac
  if [[ ! -f $out/$src.class || $ROOT/test/peers/launcher/$src.java -nt $out/$src.class || $CACHE/peers/$1.cp -nt $out/$src.class ]]; then
    java=$(java_home "$1"); javac=$(dirname "$(readlink -f "$java")")/javac
    [[ -x $javac ]] || { log "javac missing next to $java: install the JDK (not only the JRE), e.g. apt-get install openjdk-17-jdk-headless"; exit 1; }
    mkdir -p "$out"
    "$javac" -d "$out" -cp "$(classpath "$1")" "$ROOT/test/peers/launcher/$src.java" >&2
  fi
  echo "$out"
}

install() {
  command -v java >/dev/null || { log "java is missing: install a JDK 17+ (apt-get install openjdk-17-jre-headless)"; exit 1; }
  command -v mvn >/dev/null || { log "mvn is missing: apt-get install maven"; exit 1; }
  local e
  for e in $ENGINES; do classpath "$e" >/dev/null; launcher "$e" >/dev/null; done
  java_home opensearch3 >/dev/null
  if [[ ! -x $CACHE/bin/aws-lambda-rie ]]; then
    log "installing aws-lambda-rie ($RIE_VERSION)"
    GOBIN=$CACHE/bin go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$RIE_VERSION"
  fi
  command -v aws >/dev/null || pip install --quiet awscli
  # moto's server (IAM, STS) for the tests of the IAM pre-check and the doctor.
  bash "$ROOT/scripts/install-moto.sh" >/dev/null
  # aws-local-stepfunctions and asl-validator for the migration workflow (test/workflow).
  command -v npm >/dev/null || { log "npm is missing: install Node.js 20+ (apt-get install nodejs npm)"; exit 1; }
  if [[ ! -d $ROOT/test/workflow/node_modules/aws-local-stepfunctions || $ROOT/test/workflow/package-lock.json -nt $ROOT/test/workflow/node_modules/.package-lock.json ]]; then
    log "installing the workflow runner's npm packages (npm ci in test/workflow)"
    (cd "$ROOT/test/workflow" && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
  log "peers installed under $CACHE"
}

start() { # engine name port
  local engine=$1 name=${2:-$1} port=${3:-} keep=${KEEP_DATA:-}
  local dir=$RUN/$name
  case $engine in
    opensearch) main=EssnapOpenSearch; conf=opensearch.yml; port=${port:-9201} ;;
    opensearch1) main=EssnapOpenSearch; conf=opensearch.yml; port=${port:-9221} ;;
    opensearch3) main=EssnapOpenSearch; conf=opensearch.yml; port=${port:-9241} ;;
    elasticsearch) main=EssnapElasticsearch; conf=elasticsearch.yml; port=${port:-9211} ;;
    *) log "unknown engine $engine ($ENGINES)"; exit 2 ;;
  esac
  if (( port < 9201 || port > 9299 )); then
    log "port $port is outside 9201-9299: the runner's port probe stops at 9299 and exits silently"; exit 2
  fi
  if [[ -f $dir/pid ]] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    log "$name already running on $(cat "$dir/url")"; return 0
  fi
  # restart (KEEP_DATA=1) keeps the data directory: a node that comes back
  # with its indices, as a managed domain's node does after a restart.
  [[ -n $keep ]] || rm -rf "$dir"
  mkdir -p "$dir/conf" "$RUN/repo"
  # Remote reindex (issue 12): the target pulls from another local engine;
  # Elasticsearch 7.10 and OpenSearch 1.3 still name the setting whitelist.
  local allow=allowlist
  [[ $engine == elasticsearch || $engine == opensearch1 ]] && allow=whitelist
  cat > "$dir/conf/$conf" <<YML
path.repo: ["$RUN/repo"]
discovery.type: single-node
network.host: 127.0.0.1
http.port: $port
transport.port: $((port + 100))
action.destructive_requires_name: false
reindex.remote.$allow: ["127.0.0.1:*", "localhost:*"]
YML
  local cp java launcher roles; cp=$(classpath "$engine"); java=$(java_home "$engine")
  # test/peers/launcher gives the node the roles a managed domain has
  # (ingest included); the runner's own main would leave ingest out.
  launcher=$(launcher "$engine")
  roles=master,data,ingest
  [[ $engine == opensearch3 ]] && roles=cluster_manager,data,ingest
  # The runner's node n listens on base+n.
  nohup "$java" -Xms512m -Xmx${ESSNAP_HEAP:-1g} -Dessnap.roles=$roles -cp "$launcher:$cp" "$main" -basePath "$dir/data" -confPath "$dir/conf" \
    -numOfNode 1 -baseHttpPort $((port - 1)) -clusterName "essnap-$name" >"$dir/engine.log" 2>&1 &
  echo $! >"$dir/pid"
  echo "http://127.0.0.1:$port" >"$dir/url"
  log "starting $engine as $name on 127.0.0.1:$port (log $dir/engine.log)"
  for _ in $(seq 1 180); do
    if curl -fsS "http://127.0.0.1:$port/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; then
      log "$name is up: $(curl -fsS "http://127.0.0.1:$port" | tr -d '\n ' | grep -o '"number":"[^"]*"')"
      return 0
    fi
    if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      log "$name died during start-up:"; tail -40 "$dir/engine.log" >&2; exit 1
    fi
    sleep 1
  done
  log "$name did not become healthy in 180s"; tail -40 "$dir/engine.log" >&2; exit 1
}

stop() { # name|all
  local target=${1:-all}
  for d in "$RUN"/*/; do
    [[ -f $d/pid ]] || continue
    local name; name=$(basename "$d")
    [[ $target == all || $target == "$name" ]] || continue
    local pid; pid=$(cat "$d/pid")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
      kill -9 "$pid" 2>/dev/null || true
      log "stopped $name"
    fi
    rm -f "$d/pid"
  done
}

case ${1:-} in
  install) install ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  restart) shift; stop "${2:-$1}"; KEEP_DATA=1 start "$@" ;;
  url) cat "$RUN/$2/url" ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
