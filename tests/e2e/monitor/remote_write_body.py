#!/usr/bin/env python3
"""Writes a Prometheus remote-write body (snappy block format around a
protobuf WriteRequest) to stdout, for tests that post it with curl.

usage: remote_write_body.py NAME LABELS_JSON T0_MS STEP_MS V0 N [--garbage]

One series: NAME with the labels of LABELS_JSON, N samples at T0 + i*STEP with
values V0 + i. The snappy encoding uses literals only, which every decoder
must accept; --garbage truncates the protobuf to test rejection."""
import json
import struct
import sys


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(num, wire, payload):
    key = varint((num << 3) | wire)
    if wire == 2:
        return key + varint(len(payload)) + payload
    return key + payload


def snappy_literals(data):
    out = bytearray(varint(len(data)))
    for i in range(0, len(data), 65536):
        chunk = data[i:i + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + struct.pack("<H", n)
        out += chunk
    return bytes(out)


def main():
    name, labels, t0, step, v0, n = sys.argv[1:7]
    labels = dict(json.loads(labels), __name__=name)
    ts = b""
    for k in sorted(labels):
        ts += field(1, 2, field(1, 2, k.encode()) + field(2, 2, labels[k].encode()))
    for i in range(int(n)):
        t = int(t0) + i * int(step)
        s = field(1, 1, struct.pack("<d", float(v0) + i)) + field(2, 0, varint(t))
        ts += field(2, 2, s)
    req = field(1, 2, ts)
    if "--garbage" in sys.argv:
        req = req[:-3]
    sys.stdout.buffer.write(snappy_literals(req))


main()
