#!/usr/bin/env python3
"""Writes an OCI image layout (https://github.com/opencontainers/image-spec,
image-layout.md) without any network: one gzip layer from a root file system
directory and/or layers of random data, a config naming their diff ids, a
manifest, and index.json tagging it. skopeo and podman read it as
oci:DIR:TAG.

usage: make-oci-image.py OUT_DIR TAG [--rootfs DIR] [--random-layers N]
                         [--layer-size BYTES] [--seed S] [--cmd JSON-ARRAY]
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import random
import tarfile


def write_blob(out, data):
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(out, "blobs", "sha256", digest)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
    return "sha256:" + digest


def rootfs_layer(rootfs):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(rootfs)):
            tar.add(os.path.join(rootfs, name), arcname=name)
    raw = buf.getvalue()
    return raw, gzip.compress(raw, compresslevel=6, mtime=0)


def random_layer(rng, index, size):
    """An uncompressed tar holding one file of `size` random bytes."""
    data = rng.randbytes(size)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(f"data/layer{index}.bin")
        info.size = len(data)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    return raw, raw


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("tag")
    p.add_argument("--rootfs")
    p.add_argument("--random-layers", type=int, default=0)
    p.add_argument("--layer-size", type=int, default=1 << 20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--cmd", default='["/bin/sh"]', help="the image's Cmd as a JSON array")
    a = p.parse_args()

    os.makedirs(os.path.join(a.out, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(a.out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)

    layers, diff_ids = [], []
    if a.rootfs:
        raw, gz = rootfs_layer(a.rootfs)
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                       "digest": write_blob(a.out, gz), "size": len(gz)})
    rng = random.Random(a.seed)
    for i in range(a.random_layers):
        raw, blob = random_layer(rng, i, a.layer_size)
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar",
                       "digest": write_blob(a.out, blob), "size": len(blob)})

    config = {"architecture": "amd64", "os": "linux",
              "config": {"Cmd": json.loads(a.cmd), "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    cfg = json.dumps(config, sort_keys=True).encode()
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": write_blob(a.out, cfg), "size": len(cfg)},
                "layers": layers}
    mbytes = json.dumps(manifest, sort_keys=True).encode()
    mdigest = write_blob(a.out, mbytes)

    index_path = os.path.join(a.out, "index.json")
    index = {"schemaVersion": 2, "manifests": []}
    if os.path.exists(index_path):
        with open(index_path) as f:
            index = json.load(f)
    index["manifests"] = [m for m in index["manifests"]
                          if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != a.tag]
    index["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "digest": mdigest, "size": len(mbytes),
                               "annotations": {"org.opencontainers.image.ref.name": a.tag}})
    with open(index_path, "w") as f:
        json.dump(index, f)
    print(mdigest)


if __name__ == "__main__":
    main()
