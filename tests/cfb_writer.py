"""A minimal writer of Microsoft Compound File Binary (CFB, "OLE") files, enough for the
tests' Outlook .msg (tests/made_corpus.py): no package in the constraints writes CFB
(olefile only reads, or rewrites streams in place)."""

from __future__ import annotations

import struct

FREE, END, FATSECT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
NOSTREAM = 0xFFFFFFFF
OUTLOOK_MSG_CLSID = bytes.fromhex("0b0d020000000000c000000000000046")


def compound_file(streams: dict[str, bytes], root_clsid: bytes = bytes(16)) -> bytes:
    """A version-3 compound file (512-byte sectors) holding ``streams`` ({"storage/name": bytes}),
    every stream under the 4096-byte cutoff so all live in the mini stream."""
    assert all(len(b) < 4096 for b in streams.values())
    # path -> entry type (1 storage, 2 stream, 5 root) and child paths
    nodes = {"": {"type": 5, "kids": []}}
    for path in streams:
        parts = path.split("/")
        for i in range(1, len(parts)):
            p = "/".join(parts[:i])
            if p not in nodes:
                nodes[p] = {"type": 1, "kids": []}
                nodes["/".join(parts[:i - 1])]["kids"].append(p)
        nodes[path] = {"type": 2, "kids": []}
        nodes["/".join(parts[:-1])]["kids"].append(path)
    order = [""]
    for p in sorted(nodes):
        if p:
            order.append(p)
    ids = {p: i for i, p in enumerate(order)}
    # mini stream
    mini, minifat, starts = bytearray(), [], {}
    for p in order:
        if nodes[p]["type"] == 2:
            data = streams[p]
            n = max(1, -(-len(data) // 64)) if data else 0
            starts[p] = len(minifat) if n else END
            for k in range(n):
                minifat.append(len(minifat) + 1 if k < n - 1 else END)
            mini += data + bytes(n * 64 - len(data))
    nd = -(-len(order) * 128 // 512)
    nmf = -(-len(minifat) * 4 // 512) if minifat else 0
    nms = -(-len(mini) // 512)
    nfat = 1
    while nd + nmf + nms + nfat > nfat * 128:
        nfat += 1
    fat = []
    def chain(n):
        first = len(fat)
        for k in range(n):
            fat.append(first + k + 1 if k < n - 1 else END)
        return first if n else END
    dir_start, mf_start, ms_start = chain(nd), chain(nmf), chain(nms)
    fat_start = len(fat)
    fat += [FATSECT] * nfat
    fat += [FREE] * (nfat * 128 - len(fat))

    def sort_key(p):
        name = p.split("/")[-1]
        return (len(name), name.upper())

    entries = bytearray()
    for p in order:
        node = nodes[p]
        name = "Root Entry" if p == "" else p.split("/")[-1]
        enc = name.encode("utf-16-le") + b"\0\0"
        kids = sorted(node["kids"], key=sort_key)
        child = ids[kids[0]] if kids else NOSTREAM
        # siblings: a chain through the right pointers (all black; readers walk it as a tree)
        parent = "" if p == "" else "/".join(p.split("/")[:-1])
        sibs = sorted(nodes[parent]["kids"], key=sort_key) if p else []
        right = NOSTREAM
        if p:
            i = sibs.index(p)
            right = ids[sibs[i + 1]] if i + 1 < len(sibs) else NOSTREAM
        if node["type"] == 5:
            start, size = (ms_start if nms else END), len(mini)
        elif node["type"] == 2:
            start, size = starts[p], len(streams[p])
        else:
            start, size = 0, 0
        clsid = root_clsid if node["type"] == 5 else bytes(16)
        entries += struct.pack("<64sHBBIII16sIQQIQ", enc.ljust(64, b"\0"), len(enc), node["type"], 1,
                               NOSTREAM, right, child, clsid, 0, 0, 0, start, size)
    entries += b"".join(struct.pack("<64sHBBIII16sIQQIQ", bytes(64), 0, 0, 0, NOSTREAM, NOSTREAM, NOSTREAM,
                                    bytes(16), 0, 0, 0, 0, 0) for _ in range(nd * 4 - len(order)))
    mf = b"".join(struct.pack("<I", x) for x in minifat)
    mf += struct.pack("<I", FREE) * ((nmf * 512 - len(mf)) // 4)
    difat = [fat_start + k for k in range(nfat)] + [FREE] * (109 - nfat)
    header = struct.pack("<8s16sHHHHH6sIIIIIIIII", bytes.fromhex("d0cf11e0a1b11ae1"), bytes(16), 0x3E, 3,
                         0xFFFE, 9, 6, bytes(6), 0, nfat, dir_start, 0, 4096,
                         mf_start if nmf else END, nmf, END, 0)
    header += b"".join(struct.pack("<I", x) for x in difat)
    body = bytes(entries) + mf + bytes(mini) + bytes(nms * 512 - len(mini))
    body += b"".join(struct.pack("<I", x) for x in fat)
    return header + body
