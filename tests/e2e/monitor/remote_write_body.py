#!/usr/bin/env python3
"""Writes a Prometheus remote-write body (snappy block format around a
protobuf WriteRequest) to stdout, for tests that post it with curl.

usage: remote_write_body.py NAME LABELS_JSON T0_MS STEP_MS V0 N [--garbage] [--histogram]

One series: NAME with the labels of LABELS_JSON, N samples at T0 + i*STEP with
values V0 + i. The snappy encoding uses literals only, which every decoder
must accept; --garbage truncates the protobuf to test rejection.

--histogram sends native (integer) histograms instead, as a Prometheus with
native histograms does: schema 0, no zero bucket, three buckets (0.5,1],
(1,2], (2,4] holding k, 2k, k observations with k = V0 + i (delta-encoded),
count 4k, sum 6k."""
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


def zigzag(n):
    return (n << 1) ^ (n >> 63) if n < 0 else n << 1


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
        if "--histogram" in sys.argv:
            k = int(v0) + i
            span = field(1, 0, varint(zigzag(0))) + field(2, 0, varint(3))
            deltas = varint(zigzag(k)) + varint(zigzag(k)) + varint(zigzag(-k))
            h = (field(1, 0, varint(4 * k)) + field(3, 1, struct.pack("<d", 6.0 * k)) +
                 field(4, 0, varint(zigzag(0))) + field(5, 1, struct.pack("<d", 0.0)) +
                 field(6, 0, varint(0)) + field(11, 2, span) + field(12, 2, deltas) +
                 field(15, 0, varint(t)))
            ts += field(4, 2, h)
            continue
        s = field(1, 1, struct.pack("<d", float(v0) + i)) + field(2, 0, varint(t))
        ts += field(2, 2, s)
    req = field(1, 2, ts)
    if "--garbage" in sys.argv:
        req = req[:-3]
    sys.stdout.buffer.write(snappy_literals(req))


main()
