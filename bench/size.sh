#!/usr/bin/env bash
# Lambda bootstrap size benchmark (issue 3 target: each function's arm64
# bootstrap <= 10 MB, and <= 4 MB zipped). Not a test: it prints figures.
#
# Builds every functions/<name> exactly like the Makefile's build-<LogicalId>
# targets (LAMBDA_ENV and LAMBDA_FLAGS are read from the Makefile), zips each
# bootstrap the way `sam build`/`sam package` do (deflate, default level), and
# prints bytes and verdicts. 10 MB is taken as 10,000,000 bytes (the stricter
# reading; 10 MiB = 10,485,760). Then, unless --no-explain, it prints what
# contributes: the size of small programs that each add one dependency to a
# bare aws-lambda-go runtime, and build-flag variants of take-snapshot.
#
# Usage: bash bench/size.sh [--no-explain]     (or: make bench-lambda)
# Exit status 1 when a target is missed.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "$0")/lib.sh"
OUT=$CACHE/bench/size
MAX_BYTES=10000000
MAX_ZIP=4000000
explain=1
[[ ${1:-} == --no-explain ]] && explain=0

# The Makefile's LAMBDA_ENV and LAMBDA_FLAGS, verbatim.
lambda_build_flags
read -ra lenv <<<"$LAMBDA_ENV"

zipsize() { # file -> bytes of a zip holding it as "bootstrap"
  python3 - "$1" <<'PY'
import io, sys, zipfile
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
    z.write(sys.argv[1], "bootstrap")
print(len(buf.getvalue()))
PY
}
mb() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1e6 }'; }

rm -rf "$OUT"
mkdir -p "$OUT"
echo "Lambda bootstrap size ($($GO version | cut -d' ' -f3), $LAMBDA_ENV $GO build $LAMBDA_FLAGS)"
echo "targets: <= $MAX_BYTES bytes (10 MB), <= $MAX_ZIP bytes zipped (4 MB)"
echo
printf '%-16s %12s %8s %12s %8s  %s\n' function bytes MB zipped MB verdict
fail=0
for dir in functions/*/; do
  fn=$(basename "$dir")
  bin=$OUT/$fn/bootstrap
  env "${lenv[@]}" "$GO" build "${flags[@]}" -o "$bin" "./functions/$fn"
  size=$(stat -c %s "$bin")
  zsize=$(zipsize "$bin")
  verdict=PASS
  if ((size > MAX_BYTES || zsize > MAX_ZIP)); then verdict=FAIL; fail=1; fi
  printf '%-16s %12d %8s %12d %8s  %s\n' "$fn" "$size" "$(mb "$size")" "$zsize" "$(mb "$zsize")" "$verdict"
done

if ((explain)); then
  # Small programs, each a bare aws-lambda-go runtime plus one dependency as
  # essnap uses it; built with the same flags. Go ignores .cache for ./...
  V=$OUT/variants
  mkdir -p "$V"/{runtime,sigv4,config,esclient,esapi}
  variant() { # name, extra imports, body: a Lambda handler that sends one request
    cat >"$V/$1/main.go" <<EOF
package main

import (
	"context"
	"net/http"
$2
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context) (string, error) {
		r, err := http.NewRequestWithContext(ctx, "GET", "http://127.0.0.1:9200/", nil)
		if err != nil {
			return "", err
		}
$3
		return "", nil
	})
}
EOF
  }
  variant runtime '' '		_, _ = http.DefaultClient.Do(r)'
  variant sigv4 '	"time"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"' \
    '		_ = v4.NewSigner().SignHTTP(ctx, aws.Credentials{}, r, "", "es", "eu-west-1", time.Now())'
  variant config '	"github.com/aws/aws-sdk-go-v2/config"' \
    '		c, err := config.LoadDefaultConfig(ctx)
		if err == nil {
			_, _ = c.Credentials.Retrieve(r.Context())
		}'
  variant esclient '	"net/url"
	"github.com/elastic/go-elasticsearch/v7"
	"github.com/elastic/go-elasticsearch/v7/estransport"' \
    '		u, _ := url.Parse("http://127.0.0.1:9200")
		tp, _ := estransport.New(estransport.Config{URLs: []*url.URL{u}, Transport: http.DefaultTransport, DisableRetry: true})
		es := &elasticsearch.Client{Transport: tp}
		_, _ = es.Perform(r)'
  variant esapi '	"github.com/elastic/go-elasticsearch/v7"' \
    '		es, _ := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{"http://127.0.0.1:9200"}, Transport: http.DefaultTransport, DisableRetry: true})
		_, _ = es.Perform(r)'
  echo
  echo "What contributes (stripped bytes, same flags; delta = added to the bare runtime):"
  base=0
  for v in runtime sigv4 config esclient esapi; do
    env "${lenv[@]}" "$GO" build "${flags[@]}" -o "$V/$v/bin" "./${V#"$ROOT"/}/$v"
    s=$(stat -c %s "$V/$v/bin")
    ((base == 0)) && base=$s
    case $v in
      runtime) what="aws-lambda-go runtime + net/http (crypto/tls, x/net idna, ...)" ;;
      sigv4) what="+ SigV4 signer (aws-sdk-go-v2/aws/signer/v4)" ;;
      config) what="+ config.LoadDefaultConfig (env, shared files, SSO, STS web identity, IMDS, ECS, process, login)" ;;
      esclient) what="+ go-elasticsearch v7 Client built from estransport (product check in Perform), as esclient does" ;;
      esapi) what="+ go-elasticsearch v7 via elasticsearch.NewClient (which calls esapi.New: every typed API)" ;;
    esac
    printf '  %-9s %10d  delta %+9d  %s\n' "$v" "$s" "$((s - base))" "$what"
  done
  echo
  echo "Build-flag variants of take-snapshot (evaluated, not used):"
  tv() { # label, extra go build args...
    local label=$1; shift
    env "${lenv[@]}" "$GO" build "${flags[@]}" "$@" -o "$OUT/tv.bin" ./functions/take-snapshot
    printf '  %-52s %10d\n' "$label" "$(stat -c %s "$OUT/tv.bin")"
  }
  tv "as the Makefile"
  tv "+ -gcflags=all=-l (no inlining anywhere)" -gcflags=all=-l
  tv "+ -tags lambda.norpc,nethttpomithttp2 (no HTTP/2)" -tags lambda.norpc,nethttpomithttp2
  rm -f "$OUT/tv.bin"
fi
exit "$fail"
