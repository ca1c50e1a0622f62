#!/usr/bin/env bash
# tfr read-path benchmark: tfr vs nginx serving the same bytes as static files, with wrk.
# Not part of CI. Usage: bash bench/run.sh   (env: DURATION=10s CONNECTIONS=32 THREADS=2)
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tfr/target}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
TFR_PORT="${TFR_PORT:-18080}"
NGINX_PORT="${NGINX_PORT:-18081}"

need() { command -v "$1" >/dev/null 2>&1; }
apt_install() { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
need wrk || apt_install wrk
need nginx || apt_install nginx-light || apt_install nginx
need gpg || apt_install gnupg
need curl || apt_install curl

echo "::: building tfr (release)"
cargo build --release -q -p tfr
TFR="$CARGO_TARGET_DIR/release/tfr"

WORK=$(mktemp -d /tmp/tfr-bench.XXXXXX)
TFR_PID=""; NGINX_PID=""; IDP_PID=""
cleanup() {
    [ -n "$TFR_PID" ] && kill "$TFR_PID" 2>/dev/null || true
    [ -n "$IDP_PID" ] && kill "$IDP_PID" 2>/dev/null || true
    [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
    GNUPGHOME="$WORK/gnupg" gpgconf --kill gpg-agent 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# The test OIDC provider (npm oidc-provider), so reads can also be measured with a session.
IDP_PORT="${IDP_PORT:-18082}"
[ -d tests/oidc/node_modules ] || (cd tests/oidc && npm ci --silent --no-audit --no-fund)
cat > "$WORK/idp.json" <<JSON
{"port": $IDP_PORT, "redirectUris": ["http://127.0.0.1:$TFR_PORT/api/v1/auth/callback"],
 "user": {"sub": "bench-user", "email": "bench@example.com", "email_verified": true,
          "preferred_username": "bench", "name": "Bench User", "groups": ["bench"]}}
JSON
node tests/oidc/server.mjs --config "$WORK/idp.json" >"$WORK/idp.log" 2>&1 &
IDP_PID=$!
for _ in $(seq 1 100); do grep -q READY "$WORK/idp.log" && break; sleep 0.1; done
grep -q READY "$WORK/idp.log" || { cat "$WORK/idp.log"; echo "the OIDC provider did not start" >&2; exit 1; }

# Seeding sends one bcrypt-checked request per version: use the cheapest allowed cost.
# Anonymous read on, so the same server answers anonymous and authenticated reads; rate
# limits off (one client IP sends everything).
export TFR_DATA_DIR="$WORK/data" TFR_LISTEN="127.0.0.1:$TFR_PORT" TFR_BCRYPT_COST=10 TFR_LOG_FORMAT=json RUST_LOG=warn
export TFR_AUTH_ANONYMOUS_READ=true TFR_RATE_LIMIT_ANONYMOUS_PER_MINUTE=0 TFR_RATE_LIMIT_AUTHENTICATED_PER_MINUTE=0 TFR_RATE_LIMIT_FAILED_AUTH_PER_MINUTE=0
export TFR_OIDC_ISSUER_URL="http://127.0.0.1:$IDP_PORT" TFR_OIDC_CLIENT_ID=tfr-test TFR_OIDC_CLIENT_SECRET=tfr-test-secret
export TFR_AUTH_BOOTSTRAP_ADMINS=bench@example.com
BASE="http://127.0.0.1:$TFR_PORT"
"$TFR" migrate >/dev/null 2>&1 || true
"$TFR" serve >"$WORK/tfr.log" 2>&1 &
TFR_PID=$!
for _ in $(seq 1 100); do curl -fs "$BASE/health" >/dev/null && break; sleep 0.1; done
curl -fs "$BASE/health" >/dev/null || { cat "$WORK/tfr.log"; echo "tfr did not start" >&2; exit 1; }
TOKEN=$("$TFR" keys create --name bench --scopes modules:write,providers:write)

echo "::: seeding"
python3 bench/make_fixtures.py "$WORK/fx"
seed_module() { # NAME COUNT
    local t0; t0=$(date +%s)
    for i in $(seq 1 "$2"); do
        curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/gzip' \
            --data-binary @"$WORK/fx/module.tar.gz" "$BASE/api/v1/modules/bench/$1/aws/$((i / 100)).$((i % 100)).0"
    done
    echo "module bench/$1/aws: $2 versions in $(( $(date +%s) - t0 ))s"
}
seed_module v20 20
seed_module v200 200
seed_module v2000 2000

export GNUPGHOME="$WORK/gnupg"; mkdir -m 700 -p "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-generate-key 'tfr bench <bench@example.com>' rsa2048 sign never
gpg --batch --armor --export > "$WORK/key.asc"
t0=$(date +%s)
for v in $(seq 1 50); do
    ver="1.$v.0"; d="$WORK/fx/provider-$ver"
    python3 bench/make_fixtures.py --provider "$d" fake "$ver"
    gpg --batch --quiet --yes --detach-sign -o "$d/terraform-provider-fake_${ver}_SHA256SUMS.sig" "$d/terraform-provider-fake_${ver}_SHA256SUMS"
    args=()
    for z in "$d"/*.zip; do args+=(-F "package=@$z;filename=$(basename "$z");type=application/zip"); done
    curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" "${args[@]}" \
        -F "shasums=@$d/terraform-provider-fake_${ver}_SHA256SUMS" \
        -F "signature=@$d/terraform-provider-fake_${ver}_SHA256SUMS.sig" \
        -F "gpg_public_key=<$WORK/key.asc" -F "protocols=5.0" \
        "$BASE/api/v1/providers/bench/fake/$ver"
done
echo "provider bench/fake: 50 versions x 4 platforms in $(( $(date +%s) - t0 ))s"

# The endpoints, and nginx serving the very same bytes (and headers) as static files.
declare -A PATHS=(
    [module_versions_20]="/v1/modules/bench/v20/aws/versions"
    [module_versions_200]="/v1/modules/bench/v200/aws/versions"
    [module_versions_2000]="/v1/modules/bench/v2000/aws/versions"
    [provider_versions]="/v1/providers/bench/fake/versions"
    [provider_download]="/v1/providers/bench/fake/1.25.0/download/linux/amd64"
    [module_download]="/v1/modules/bench/v200/aws/1.50.0/download"
)
ORDER=(module_versions_20 module_versions_200 module_versions_2000 provider_versions provider_download module_download)
mkdir -p "$WORK/www"
for k in "${ORDER[@]}"; do curl -fsS -o "$WORK/www/$k" "$BASE${PATHS[$k]}"; done
XTG=$(curl -fsS -D - -o /dev/null "$BASE${PATHS[module_download]}" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-terraform-get"{print $2}')
cat > "$WORK/nginx.conf" <<NGX
worker_processes auto;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    tcp_nodelay on;
    keepalive_requests 1000000;
    default_type application/json;
    types { }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/www;
        location = /module_download { add_header X-Terraform-Get "$XTG"; return 204; }
    }
}
NGX
nginx -c "$WORK/nginx.conf" -p "$WORK" &
NGINX_PID=$!
for _ in $(seq 1 50); do curl -fs -o /dev/null "http://127.0.0.1:$NGINX_PORT/provider_versions" && break; sleep 0.1; done

bench() { # URL -> "rps p99"
    local out; out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$1")
    local rps p99
    rps=$(awk '/^Requests\/sec:/{print $2}' <<<"$out")
    p99=$(awk '$1=="99%"{print $2}' <<<"$out")
    echo "$rps $p99"
}

echo
echo "::: wrk -t$THREADS -c$CONNECTIONS -d$DURATION (tfr vs nginx, same bytes)"
printf '%-22s %8s %12s %10s %12s %10s %7s\n' endpoint bytes tfr_req/s tfr_p99 nginx_req/s nginx_p99 ratio
for k in "${ORDER[@]}"; do
    read -r trps tp99 < <(bench "$BASE${PATHS[$k]}")
    read -r nrps np99 < <(bench "http://127.0.0.1:$NGINX_PORT/$k")
    ratio=$(awk -v a="$trps" -v b="$nrps" 'BEGIN{ if (b>0) printf "%.0f%%", 100*a/b; else print "n/a" }')
    printf '%-22s %8s %12s %10s %12s %10s %7s\n' "$k" "$(stat -c %s "$WORK/www/$k")" "$trps" "$tp99" "$nrps" "$np99" "$ratio"
done
echo
echo "Targets (issue 2): tfr >= 50% of nginx on the versions endpoints, p99 < 5ms, flat from 20 to 2,000 versions."

echo
echo "::: sign-in flows"
SESSION=$(python3 bench/auth_flows.py login "$BASE")
python3 bench/auth_flows.py exchange "$BASE" "$SESSION" 20
VERIFY_KEYS=()
for i in $(seq 1 10); do VERIFY_KEYS+=("$(TFR_BCRYPT_COST=12 "$TFR" keys create --name "verify-$i" --scopes modules:read)"); done
python3 bench/auth_flows.py verify "$BASE" "${VERIFY_KEYS[@]}"
READ_KEY=$("$TFR" keys create --name bench-read --scopes modules:read,providers:read)

bench_as() { # URL HEADER -> "rps p99"
    local out; out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "$2" "$1")
    echo "$(awk '/^Requests\/sec:/{print $2}' <<<"$out") $(awk '$1=="99%"{print $2}' <<<"$out")"
}
echo
echo "::: authenticated reads: wrk -t$THREADS -c$CONNECTIONS -d$DURATION, same server, same endpoints"
printf '%-22s %12s %9s %12s %9s %7s %12s %9s %7s\n' endpoint anon_req/s anon_p99 key_req/s key_p99 key% session_req/s sess_p99 sess%
# The order of the three runs rotates from row to row: on this shared VM a run late in a
# row is measured on a warmer, busier machine, and a fixed order would charge that to one column.
row=0
for k in module_versions_20 module_versions_200 provider_versions provider_download module_download; do
    for turn in 0 1 2; do
        case $(( (row + turn) % 3 )) in
            0) read -r arps ap99 < <(bench "$BASE${PATHS[$k]}") ;;
            1) read -r krps kp99 < <(bench_as "$BASE${PATHS[$k]}" "Authorization: Bearer $READ_KEY") ;;
            2) read -r srps sp99 < <(bench_as "$BASE${PATHS[$k]}" "Authorization: Bearer $SESSION") ;;
        esac
    done
    row=$((row + 1))
    kpct=$(awk -v a="$krps" -v b="$arps" 'BEGIN{ printf "%.0f%%", 100*a/b }')
    spct=$(awk -v a="$srps" -v b="$arps" 'BEGIN{ printf "%.0f%%", 100*a/b }')
    printf '%-22s %12s %9s %12s %9s %7s %12s %9s %7s\n' "$k" "$arps" "$ap99" "$krps" "$kp99" "$kpct" "$srps" "$sp99" "$spct"
done
echo
echo "Targets (issue 3): authenticated reads >= 80% of anonymous; login, token exchange and an uncached key verification each < 300 ms."
