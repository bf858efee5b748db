"""Independent check of a PNG written by Lathe's chart rasteriser, using only Python's zlib and struct.

Usage:  /usr/bin/python3 tests/Lathe.Tests/Evaluation/Scaling/png_oracle.py FILE.png [FILE.png ...]

For each file: the 8-byte signature; every chunk's CRC-32 recomputed with zlib.crc32 over type + data; IHDR's
fields; the IDAT stream inflated by zlib (which checks the Adler-32 trailer) and the trailer compared with
zlib.adler32 of the inflated bytes as well; each scanline's filter (PNG spec section 9) undone; IEND last.
Prints one JSON object per file: width, height, bit depth, colour type, filters used, the number of distinct
colours and the SHA-256 of the unfiltered pixel bytes (row-major RGB), for the C# test to compare.
"""
import hashlib
import json
import struct
import sys
import zlib


def check(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "bad signature"
    at, chunks, idat = 8, [], b""
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        kind = data[at + 4:at + 8]
        body = data[at + 8:at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length:at + 12 + length])
        want = zlib.crc32(kind + body) & 0xFFFFFFFF
        assert crc == want, "%s: CRC %08x, want %08x" % (kind, crc, want)
        chunks.append(kind.decode("ascii"))
        if kind == b"IHDR":
            width, height, depth, colour, method, filt, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    assert at == len(data), "trailing bytes"
    assert chunks[0] == "IHDR" and chunks[-1] == "IEND", chunks
    assert (depth, method, filt, interlace) == (8, 0, 0, 0), (depth, method, filt, interlace)
    channels = {2: 3, 6: 4}[colour]
    raw = zlib.decompress(idat)
    (adler,) = struct.unpack(">I", idat[-4:])
    assert adler == zlib.adler32(raw) & 0xFFFFFFFF, "Adler-32 mismatch"
    stride = width * channels
    assert len(raw) == height * (stride + 1), "inflated %d bytes, want %d" % (len(raw), height * (stride + 1))
    pixels = bytearray(height * stride)
    filters = set()
    for y in range(height):
        f = raw[y * (stride + 1)]
        filters.add(f)
        line = raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        base = y * stride
        for x in range(stride):
            a = pixels[base + x - channels] if x >= channels else 0
            b = pixels[base - stride + x] if y > 0 else 0
            c = pixels[base - stride + x - channels] if (y > 0 and x >= channels) else 0
            if f == 0:
                p = 0
            elif f == 1:
                p = a
            elif f == 2:
                p = b
            elif f == 3:
                p = (a + b) // 2
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            else:
                raise AssertionError("row %d: filter %d" % (y, f))
            pixels[base + x] = (line[x] + p) & 0xFF
    colours = set(bytes(pixels[i:i + 3]) for i in range(0, len(pixels), channels))
    return {"width": width, "height": height, "depth": depth, "colour": colour, "filters": sorted(filters),
            "distinct": len(colours), "sha256": hashlib.sha256(bytes(pixels)).hexdigest()}


if __name__ == "__main__":
    print(json.dumps([check(p) for p in sys.argv[1:]]))
