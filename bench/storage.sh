#!/usr/bin/env bash
# Storage benchmark (issue 5): upload one provider package of SIZE_MIB (default 1024)
# through tfr to each backend (local disk, S3 on moto, Azure on azurite, GCS on
# gcp-storage-emulator) and, in the same run, copy the same file with the store's own
# client (cp; boto3, azure-storage-blob and google-cloud-storage, the official Python
# SDKs). Reports wall times, throughput and tfr's peak RSS (VmHWM) per backend.
# Not part of CI. Usage: bash bench/storage.sh   (env: SIZE_MIB=1024 BACKENDS="local s3 azure gcs")
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tfr/target}"
SIZE_MIB="${SIZE_MIB:-1024}"
BACKENDS="${BACKENDS:-local s3 azure gcs}"
TFR_PORT="${TFR_PORT:-18095}"

need() { command -v "$1" >/dev/null 2>&1; }
need gpg || { DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq gnupg >/dev/null; }
bash .ci/install >/dev/null
VENV="${TFR_EMULATORS_VENV:-$HOME/.cache/tfr/emulators-venv}"
BENCH_VENV="$HOME/.cache/tfr/bench-venv"
if [ ! -x "$BENCH_VENV/bin/python" ] || ! "$BENCH_VENV/bin/python" -c 'import boto3, azure.storage.blob, google.cloud.storage' 2>/dev/null; then
    python3 -m venv "$BENCH_VENV"
    "$BENCH_VENV/bin/pip" install -q boto3 azure-storage-blob google-cloud-storage
fi

echo "::: building tfr (release)"
cargo build --release -q -p tfr
TFR="$CARGO_TARGET_DIR/release/tfr"

WORK=$(mktemp -d /tmp/tfr-storage-bench.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    GNUPGHOME="$WORK/gnupg" gpgconf --kill gpg-agent 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
mibps() { python3 -c "print(f'{$SIZE_MIB / ($2 - $1):.0f}')"; }

echo "::: a ${SIZE_MIB} MiB provider package (stored zip of random bytes), SHA256SUMS, signature"
export GNUPGHOME="$WORK/gnupg"; mkdir -m 700 -p "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-generate-key 'tfr storage bench <bench@example.com>' rsa2048 sign never
DIST="$WORK/dist"; mkdir -p "$DIST"
gpg --batch --armor --export > "$DIST/key.asc"
python3 - "$DIST" "$SIZE_MIB" <<'PY'
import os, sys, zipfile, hashlib
dist, mib = sys.argv[1], int(sys.argv[2])
name = f"{dist}/terraform-provider-big_1.0.0_linux_amd64.zip"
with zipfile.ZipFile(name, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
    info = zipfile.ZipInfo("terraform-provider-big_v1.0.0", (2024, 1, 1, 0, 0, 0))
    info.external_attr = 0o755 << 16
    with z.open(info, "w", force_zip64=True) as f:
        chunk = os.urandom(1 << 20)
        for i in range(mib):
            f.write(chunk[:8] + i.to_bytes(8, "little") + chunk[16:])
h = hashlib.sha256()
with open(name, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
with open(f"{dist}/terraform-provider-big_1.0.0_SHA256SUMS", "w") as f:
    f.write(f"{h.hexdigest()}  {os.path.basename(name)}\n")
PY
gpg --batch --quiet --detach-sign -o "$DIST/terraform-provider-big_1.0.0_SHA256SUMS.sig" "$DIST/terraform-provider-big_1.0.0_SHA256SUMS"
ZIP="$DIST/terraform-provider-big_1.0.0_linux_amd64.zip"
ls -l "$ZIP" | awk '{print "    zip:", $5, "bytes"}'

# --- emulators --------------------------------------------------------------------
start_emulators() {
    MOTO_PORT=$(free_port); AZ_PORT=$(free_port); GCS_PORT=$(free_port)
    "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 & PIDS+=($!)
    mkdir -p "$WORK/azurite"
    "$ROOT/tests/emulators/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$AZ_PORT" \
        --location "$WORK/azurite" --silent --skipApiVersionCheck --disableProductStyleUrl --disableTelemetry \
        >"$WORK/azurite.log" 2>&1 & PIDS+=($!)
    "$VENV/bin/gcp-storage-emulator" start --host 127.0.0.1 --port "$GCS_PORT" --in-memory --quiet \
        >"$WORK/gcs.log" 2>&1 & PIDS+=($!)
    wait_http "http://127.0.0.1:$MOTO_PORT/moto-api/"
    wait_http "http://127.0.0.1:$AZ_PORT/devstoreaccount1"
    wait_http "http://127.0.0.1:$GCS_PORT/"
}
AZ_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
start_emulators
AZ_CONN="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$AZ_KEY;BlobEndpoint=http://127.0.0.1:$AZ_PORT/devstoreaccount1;"

# The store's own client uploading the zip (BUCKET, KEY).
client_upload() { # backend bucket key
    "$BENCH_VENV/bin/python" - "$1" "$2" "$3" "$ZIP" <<PY
import sys
backend, bucket, key, path = sys.argv[1:5]
if backend == "s3":
    import boto3
    from boto3.s3.transfer import TransferConfig
    s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:$MOTO_PORT", region_name="us-east-1",
                      aws_access_key_id="bench", aws_secret_access_key="bench")
    s3.upload_file(path, bucket, key, Config=TransferConfig(multipart_chunksize=8 << 20))
elif backend == "azure":
    from azure.storage.blob import BlobServiceClient
    svc = BlobServiceClient.from_connection_string("$AZ_CONN")
    with open(path, "rb") as f:
        svc.get_blob_client(bucket, key).upload_blob(f, overwrite=True, max_concurrency=2)
elif backend == "gcs":
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage
    client = storage.Client(project="bench", credentials=AnonymousCredentials(),
                            client_options={"api_endpoint": "http://127.0.0.1:$GCS_PORT"})
    blob = client.bucket(bucket).blob(key, chunk_size=8 << 20)
    blob.upload_from_filename(path)
PY
}

make_bucket() { # backend name
    case "$1" in
        s3) curl -fs -X PUT "http://127.0.0.1:$MOTO_PORT/$2" >/dev/null ;;
        gcs) curl -fs -X POST -H 'Content-Type: application/json' -d "{\"name\":\"$2\"}" \
                "http://127.0.0.1:$GCS_PORT/storage/v1/b?project=bench" >/dev/null ;;
        azure) "$BENCH_VENV/bin/python" -c "from azure.storage.blob import BlobServiceClient as B; B.from_connection_string('$AZ_CONN').create_container('$2')" ;;
    esac
}

storage_env() { # backend bucket -> lines of KEY=VALUE
    case "$1" in
        local) echo "TFR_STORAGE_BACKEND=local" ;;
        s3) printf '%s\n' TFR_STORAGE_BACKEND=s3 "TFR_STORAGE_S3_BUCKET=$2" TFR_STORAGE_S3_REGION=us-east-1 \
                "TFR_STORAGE_S3_ENDPOINT=http://127.0.0.1:$MOTO_PORT" TFR_STORAGE_S3_FORCE_PATH_STYLE=true \
                TFR_STORAGE_S3_ACCESS_KEY_ID=bench TFR_STORAGE_S3_SECRET_ACCESS_KEY=bench ;;
        azure) printf '%s\n' TFR_STORAGE_BACKEND=azure "TFR_STORAGE_AZURE_CONTAINER=$2" \
                "TFR_STORAGE_AZURE_CONNECTION_STRING=$AZ_CONN" ;;
        gcs) printf '%s\n' TFR_STORAGE_BACKEND=gcs "TFR_STORAGE_GCS_BUCKET=$2" \
                "TFR_STORAGE_GCS_ENDPOINT=http://127.0.0.1:$GCS_PORT" ;;
    esac
}

RESULTS="$WORK/results.txt"
: > "$RESULTS"
for backend in $BACKENDS; do
    bucket="tfr-bench-$backend"
    [ "$backend" = local ] || make_bucket "$backend" "$bucket"

    # The store's own client first (the same file, the same emulator, this run).
    t0=$(now)
    if [ "$backend" = local ]; then
        cp "$ZIP" "$WORK/copy.zip"; sync "$WORK/copy.zip"; rm -f "$WORK/copy.zip"
    else
        client_upload "$backend" "$bucket" "client/$(basename "$ZIP")"
    fi
    t1=$(now)
    client_s=$(secs "$t0" "$t1"); client_mibps=$(mibps "$t0" "$t1")

    data="$WORK/tfr-$backend"; mkdir -p "$data"
    env_file="$WORK/env-$backend"
    { echo "TFR_DATA_DIR=$data"; echo "TFR_LISTEN=127.0.0.1:$TFR_PORT"; echo "TFR_LOG_FORMAT=text";
      echo "TFR_MAX_PROVIDER_PACKAGE_BYTES=$(( SIZE_MIB + 64 ))MiB"; storage_env "$backend" "$bucket"; } > "$env_file"
    token=$(env -i PATH="$PATH" HOME="$HOME" $(cat "$env_file") "$TFR" keys create --name bench --scopes providers:write)
    env -i PATH="$PATH" HOME="$HOME" $(cat "$env_file") RUST_LOG=warn "$TFR" serve >"$WORK/tfr-$backend.log" 2>&1 &
    tfr_pid=$!; PIDS+=("$tfr_pid")
    wait_http "http://127.0.0.1:$TFR_PORT/health" || { cat "$WORK/tfr-$backend.log"; exit 1; }
    idle_rss=$(awk '/VmHWM/ {print int($2/1024)}' "/proc/$tfr_pid/status")

    t0=$(now)
    status=$(curl -s -o "$WORK/publish-$backend.json" -w '%{http_code}' \
        -H "Authorization: Bearer $token" \
        -F "package=@$ZIP;type=application/zip" \
        -F "shasums=@$DIST/terraform-provider-big_1.0.0_SHA256SUMS;type=text/plain" \
        -F "signature=@$DIST/terraform-provider-big_1.0.0_SHA256SUMS.sig;type=application/octet-stream" \
        -F "gpg_public_key=<$DIST/key.asc" -F "protocols=5.0" \
        "http://127.0.0.1:$TFR_PORT/api/v1/providers/bench/big/1.0.0")
    t1=$(now)
    if [ "$status" != 201 ]; then echo "publish to $backend: HTTP $status"; cat "$WORK/publish-$backend.json"; exit 1; fi
    peak_rss=$(awk '/VmHWM/ {print int($2/1024)}' "/proc/$tfr_pid/status")
    tfr_s=$(secs "$t0" "$t1"); tfr_mibps=$(mibps "$t0" "$t1")
    kill "$tfr_pid"; wait "$tfr_pid" 2>/dev/null || true
    ratio=$(python3 -c "print(f'{$tfr_s / $client_s:.2f}')")
    printf '%-6s client %7ss (%5s MiB/s)   tfr %7ss (%5s MiB/s)   tfr/client %5sx   tfr RSS idle %3s MiB, peak %3s MiB\n' \
        "$backend" "$client_s" "$client_mibps" "$tfr_s" "$tfr_mibps" "$ratio" "$idle_rss" "$peak_rss" | tee -a "$RESULTS"
done
echo
echo "::: ${SIZE_MIB} MiB provider package; tfr = receive over HTTP, stage, verify (zip, SHA256SUMS signature), store"
cat "$RESULTS"
