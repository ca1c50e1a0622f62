#!/usr/bin/env python3
"""A static upstream provider registry for the mirror benchmark.

`make_upstream.py DIR NAMESPACE PROVIDERS VERSIONS SIZE_MIB` writes, under DIR, the files a
static web server needs to answer the Provider Registry Protocol (as registry.opentofu.org
does: plain files): `.well-known/terraform.json`, for each provider `p0..pN-1` the
`versions` document and one `download/linux/amd64` document per version, and the package
zips with their SHA256SUMS (signed afterwards by the caller with gpg, into `.sig`).

Packages hold one stored (uncompressed) member of SIZE_MIB random MiB, written in chunks,
so a 500 MiB package is never held in memory. Prints the package paths, one per line.
"""
import hashlib
import json
import os
import sys
import zipfile

CHUNK = 1 << 20


def write_zip(path, member, size_mib):
    """A zip with one stored executable member of random bytes, streamed to disk."""
    info = zipfile.ZipInfo(member)
    info.external_attr = 0o100755 << 16
    info.create_system = 3
    info.compress_type = zipfile.ZIP_STORED
    info.file_size = size_mib * CHUNK
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
        with z.open(info, "w", force_zip64=True) as out:
            for _ in range(size_mib):
                out.write(os.urandom(CHUNK))
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def main():
    root, namespace, providers, versions, size_mib = sys.argv[1:6]
    providers, versions, size_mib = int(providers), int(versions), int(size_mib)
    os.makedirs(os.path.join(root, ".well-known"), exist_ok=True)
    with open(os.path.join(root, ".well-known", "terraform.json"), "w") as f:
        json.dump({"providers.v1": "/v1/providers/"}, f)
    for p in range(providers):
        ty = f"p{p}"
        base = os.path.join(root, "v1", "providers", namespace, ty)
        listed = []
        for v in range(versions):
            ver = f"1.{v}.0"
            files = os.path.join(root, "files", namespace, ty, ver)
            os.makedirs(files, exist_ok=True)
            name = f"terraform-provider-{ty}_{ver}_linux_amd64.zip"
            sha = write_zip(os.path.join(files, name), f"terraform-provider-{ty}_v{ver}", size_mib)
            sums = f"terraform-provider-{ty}_{ver}_SHA256SUMS"
            with open(os.path.join(files, sums), "w") as f:
                f.write(f"{sha}  {name}\n")
            print(os.path.join(files, name))
            listed.append({"version": ver, "protocols": ["5.0"],
                           "platforms": [{"os": "linux", "arch": "amd64"}]})
            dl = os.path.join(base, ver, "download", "linux")
            os.makedirs(dl, exist_ok=True)
            with open(os.path.join(dl, "amd64"), "w") as f:
                json.dump({
                    "protocols": ["5.0"], "os": "linux", "arch": "amd64", "filename": name,
                    "download_url": f"/files/{namespace}/{ty}/{ver}/{name}",
                    "shasums_url": f"/files/{namespace}/{ty}/{ver}/{sums}",
                    "shasums_signature_url": f"/files/{namespace}/{ty}/{ver}/{sums}.sig",
                    "shasum": sha,
                    "signing_keys": {"gpg_public_keys": [
                        {"key_id": "", "ascii_armor": open(os.environ["BENCH_KEY_ASC"]).read()}]},
                }, f)
        os.makedirs(base, exist_ok=True)
        with open(os.path.join(base, "versions"), "w") as f:
            json.dump({"versions": listed}, f)


if __name__ == "__main__":
    main()
