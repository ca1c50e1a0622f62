#!/usr/bin/env python3
"""Bench fixtures: `make_fixtures.py DIR` writes module.tar.gz;
`make_fixtures.py --provider DIR TYPE VERSION` writes 4 platform zips and SHA256SUMS."""
import hashlib, io, os, sys, tarfile, zipfile

PLATFORMS = [("linux", "amd64"), ("linux", "arm64"), ("darwin", "arm64"), ("windows", "amd64")]
BINARY = b"#!/bin/sh\necho fake provider\nexit 1\n"

def module(d):
    os.makedirs(d, exist_ok=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in [("main.tf", b'variable "x" {\n  default = 1\n}\noutput "x" {\n  value = var.x\n}\n'),
                           ("README.md", b"# bench\n\nA benchmark module.\n")]:
            info = tarfile.TarInfo(name); info.size = len(data); info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    open(os.path.join(d, "module.tar.gz"), "wb").write(buf.getvalue())

def provider(d, ty, ver):
    os.makedirs(d, exist_ok=True)
    sums = []
    for os_, arch in PLATFORMS:
        name = f"terraform-provider-{ty}_{ver}_{os_}_{arch}.zip"
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            info = zipfile.ZipInfo(f"terraform-provider-{ty}_v{ver}")
            info.external_attr = (0o100755 << 16); info.create_system = 3
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, BINARY)
        data = buf.getvalue()
        open(os.path.join(d, name), "wb").write(data)
        sums.append(f"{hashlib.sha256(data).hexdigest()}  {name}\n")
    open(os.path.join(d, f"terraform-provider-{ty}_{ver}_SHA256SUMS"), "w").write("".join(sums))

if __name__ == "__main__":
    if sys.argv[1] == "--provider":
        provider(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        module(sys.argv[1])
