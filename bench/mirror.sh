#!/usr/bin/env bash
# Mirror benchmark (issue 4): tfr syncing 100 package files from a local upstream
# registry (static files on nginx over TLS) against curl fetching the same files with the
# same concurrency, in one run; then tfr's peak RSS while it mirrors one 500 MiB package.
# Not part of CI. Usage: bash bench/mirror.sh  (env: PACKAGES_MIB=8 BIG_MIB=500 CONCURRENCY=4)
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tfr/target}"
PACKAGES_MIB="${PACKAGES_MIB:-8}"
BIG_MIB="${BIG_MIB:-500}"
CONCURRENCY="${CONCURRENCY:-4}"
TFR_PORT="${TFR_PORT:-18090}"
UP_PORT="${UP_PORT:-18443}"

need() { command -v "$1" >/dev/null 2>&1; }
apt_install() { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
need nginx || apt_install nginx-light || apt_install nginx
need gpg || apt_install gnupg
need curl || apt_install curl
need openssl || apt_install openssl

echo "::: building tfr (release)"
cargo build --release -q -p tfr
TFR="$CARGO_TARGET_DIR/release/tfr"

WORK=$(mktemp -d /tmp/tfr-mirror-bench.XXXXXX)
TFR_PID=""; NGINX_PID=""
cleanup() {
    [ -n "$TFR_PID" ] && kill "$TFR_PID" 2>/dev/null || true
    [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
    GNUPGHOME="$WORK/gnupg" gpgconf --kill gpg-agent 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "::: upstream: 50 providers x 2 versions of ${PACKAGES_MIB} MiB, and one ${BIG_MIB} MiB package"
export GNUPGHOME="$WORK/gnupg"; mkdir -m 700 -p "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-generate-key 'tfr mirror bench <bench@example.com>' rsa2048 sign never
gpg --batch --armor --export > "$WORK/key.asc"
export BENCH_KEY_ASC="$WORK/key.asc"
python3 bench/make_upstream.py "$WORK/www" bench 50 2 "$PACKAGES_MIB" > "$WORK/packages.txt"
python3 bench/make_upstream.py "$WORK/www" big 1 1 "$BIG_MIB" > /dev/null
find "$WORK/www/files" -name '*_SHA256SUMS' | while read -r f; do gpg --batch --quiet --yes --detach-sign -o "$f.sig" "$f"; done
# nginx's workers run as another user: let them read the tree.
chmod 755 "$WORK"; chmod -R a+rX "$WORK/www"

# A CA and a certificate for 127.0.0.1; tfr trusts the CA through SSL_CERT_FILE.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=bench CA' -keyout "$WORK/ca.key" -out "$WORK/ca.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj '/CN=127.0.0.1' -keyout "$WORK/tls.key" -out "$WORK/tls.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$WORK/ext.cnf"
openssl x509 -req -in "$WORK/tls.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial -days 2 \
    -extfile "$WORK/ext.cnf" -out "$WORK/tls.pem" 2>/dev/null
cat > "$WORK/nginx.conf" <<NGX
worker_processes auto;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    default_type application/json;
    types { application/zip zip; }
    server {
        listen 127.0.0.1:$UP_PORT ssl;
        ssl_certificate $WORK/tls.pem;
        ssl_certificate_key $WORK/tls.key;
        root $WORK/www;
    }
}
NGX
nginx -c "$WORK/nginx.conf" -p "$WORK" &
NGINX_PID=$!
UP="https://127.0.0.1:$UP_PORT"
for _ in $(seq 1 50); do curl -fs --cacert "$WORK/ca.pem" -o /dev/null "$UP/.well-known/terraform.json" && break; sleep 0.1; done

echo "::: curl: the same 100 files, $CONCURRENCY at a time, to disk"
mkdir -p "$WORK/curl"
sed "s#^$WORK/www#$UP#" "$WORK/packages.txt" > "$WORK/urls.txt"
t0=$(date +%s.%N)
xargs -P "$CONCURRENCY" -n 1 sh -c 'curl -fsS --cacert "$0" -o "$1/$(basename "$2")" "$2"' "$WORK/ca.pem" "$WORK/curl" < "$WORK/urls.txt"
t1=$(date +%s.%N)
CURL_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
rm -rf "$WORK/curl"

start_tfr() { # DATA_DIR
    TFR_DATA_DIR="$1" TFR_LISTEN="127.0.0.1:$TFR_PORT" TFR_LOG_FORMAT=json RUST_LOG=warn \
    TFR_MIRROR_SCHEDULER_INTERVAL_SECS=86400 TFR_MIRROR_CONCURRENCY="$CONCURRENCY" \
    TFR_RATE_LIMIT_AUTHENTICATED_PER_MINUTE=0 SSL_CERT_FILE="$WORK/ca.pem" \
        "$TFR" serve >"$1.log" 2>&1 &
    TFR_PID=$!
    for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$TFR_PORT/health" >/dev/null && break; sleep 0.1; done
    TOKEN=$(TFR_DATA_DIR="$1" "$TFR" keys create --name bench --scopes mirrors:manage 2>/dev/null)
    # The key's first use runs bcrypt (then it is cached): keep that out of the timing.
    api "http://127.0.0.1:$TFR_PORT/api/v1/admin/mirrors" >/dev/null
}
api() { curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
sync_and_wait() { # JSON-CONFIG -> prints the finished run
    local id run status
    id=$(api -X POST --data "$1" "http://127.0.0.1:$TFR_PORT/api/v1/admin/mirrors" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    api -X POST "http://127.0.0.1:$TFR_PORT/api/v1/admin/mirrors/$id/sync" >/dev/null
    while :; do
        run=$(api "http://127.0.0.1:$TFR_PORT/api/v1/admin/mirrors/$id/history")
        status=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); items=d.get("items") or d.get("runs") or d; print(items[0]["status"])' "$run")
        [ "$status" != running ] && break
        sleep 0.05
    done
    echo "$run"
}

echo "::: tfr: sync of the same 100 files"
start_tfr "$WORK/tfr-a"
TYPES=$(python3 -c 'import json; print(json.dumps([f"p{i}" for i in range(50)]))')
t0=$(date +%s.%N)
RUN=$(sync_and_wait "{\"name\":\"bench\",\"upstream\":\"127.0.0.1:$UP_PORT\",\"namespaces\":[\"bench\"],\"provider_types\":$TYPES,\"platforms\":[\"linux_amd64\"],\"enabled\":true}")
t1=$(date +%s.%N)
TFR_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); r=(d.get("items") or d.get("runs") or d)[0]; print("run:", r["status"], r["packages_fetched"], "packages,", r["bytes_fetched"], "bytes,", len(r.get("failures") or []), "failures")' "$RUN"
RUN_S=$(python3 -c 'import json,sys,datetime as d; r=json.loads(sys.argv[1])["items"][0]; p=lambda s: d.datetime.fromisoformat(s.replace("Z","+00:00")); print("%.2f" % (p(r["finished_at"])-p(r["started_at"])).total_seconds())' "$RUN")
kill "$TFR_PID"; wait "$TFR_PID" 2>/dev/null || true; TFR_PID=""

echo "::: tfr: peak RSS while mirroring one ${BIG_MIB} MiB package (fresh process)"
start_tfr "$WORK/tfr-b"
RSS_BEFORE=$(awk '/VmHWM/{print $2}' "/proc/$TFR_PID/status")
RUN=$(sync_and_wait "{\"name\":\"big\",\"upstream\":\"127.0.0.1:$UP_PORT\",\"namespaces\":[\"big\"],\"provider_types\":[\"p0\"],\"enabled\":true}")
RSS_PEAK=$(awk '/VmHWM/{print $2}' "/proc/$TFR_PID/status")
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); r=(d.get("items") or d.get("runs") or d)[0]; print("run:", r["status"], r["packages_fetched"], "packages,", r["bytes_fetched"], "bytes")' "$RUN"

echo
printf '%-40s %10s\n' "100 x ${PACKAGES_MIB} MiB, curl (-P$CONCURRENCY, to disk)" "${CURL_S} s"
printf '%-40s %10s\n' "100 x ${PACKAGES_MIB} MiB, tfr sync (verify + store)" "${TFR_S} s"
printf '%-40s %10s\n' "  of which the run itself (history)" "${RUN_S} s"
printf '%-40s %10s\n' "tfr / curl" "$(awk -v a="$TFR_S" -v b="$CURL_S" 'BEGIN{printf "%.2fx", a/b}')"
printf '%-40s %10s\n' "tfr peak RSS before the sync" "$((RSS_BEFORE / 1024)) MiB"
printf '%-40s %10s\n' "tfr peak RSS, ${BIG_MIB} MiB package" "$((RSS_PEAK / 1024)) MiB"
echo "Targets (issue 4): tfr within 1.5x of curl; peak RSS under 100 MiB."
