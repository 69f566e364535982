"""A minimal writer of OLE2 compound files (MS-CFB version 3), for test fixtures no installed
tool writes (olefile only reads, or rewrites streams in place): Outlook messages, plain and
encrypted, and an Excel 95 (BIFF5) workbook. Streams below
4096 bytes go to the mini stream, as every reader expects; siblings form a sorted chain
(a valid search tree; readers do not check red-black colours)."""

from __future__ import annotations

import struct
from pathlib import Path

SECTOR, MINI, CUTOFF = 512, 64, 4096
FREE, END, FATSECT, NONE = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
STORAGE, STREAM, ROOT = 1, 2, 5
OUTLOOK_MSG_CLSID = bytes.fromhex("0b0d020000000000c000000000000046")


class _Node:
    def __init__(self, name: str, kind: int, data: bytes = b"") -> None:
        self.name, self.kind, self.data = name, kind, data
        self.children: dict[str, _Node] = {}
        self.sid = 0
        self.start, self.size = END, 0


def _order(node: _Node) -> tuple[int, str]:
    return len(node.name), node.name.upper()  # MS-CFB's comparison of sibling names


def write_cfb(path: Path, streams: dict[str, bytes], root_clsid: bytes = bytes(16)) -> Path:
    """Write ``streams`` ("Storage/Stream" -> bytes) as a compound file at ``path``; the root
    entry's class id tells readers what the file is (an Outlook message has its own)."""
    root = _Node("Root Entry", ROOT)
    for key, data in streams.items():
        *folders, leaf = key.split("/")
        node = root
        for folder in folders:
            node = node.children.setdefault(folder, _Node(folder, STORAGE))
        node.children[leaf] = _Node(leaf, STREAM, data)
    nodes, queue = [], [root]
    while queue:
        node = queue.pop(0)
        node.sid = len(nodes)
        nodes.append(node)
        queue.extend(sorted(node.children.values(), key=_order))

    fat: list[int] = []
    body = bytearray()

    def alloc(data: bytes) -> int:
        if not data:
            return END
        count = -(-len(data) // SECTOR)
        first = len(fat)
        fat.extend(range(first + 1, first + count))
        fat.append(END)
        body.extend(data.ljust(count * SECTOR, b"\0"))
        return first

    mini, minifat = bytearray(), []
    for node in nodes:
        if node.kind != STREAM:
            continue
        node.size = len(node.data)
        if node.size >= CUTOFF:
            node.start = alloc(node.data)
        elif node.size:
            count = -(-node.size // MINI)
            node.start = len(minifat)
            minifat.extend(range(node.start + 1, node.start + count))
            minifat.append(END)
            mini.extend(node.data.ljust(count * MINI, b"\0"))
    root.start, root.size = alloc(bytes(mini)), len(mini)
    minifat_bytes = struct.pack(f"<{len(minifat)}I", *minifat)
    minifat_bytes += b"\xff" * (-len(minifat_bytes) % SECTOR)
    minifat_start = alloc(minifat_bytes)

    entries = bytearray()
    for node in nodes:
        kids = sorted(node.children.values(), key=_order)
        for left, right in zip(kids, kids[1:]):
            left.right = right.sid  # type: ignore[attr-defined]
        name = node.name.encode("utf-16-le") + b"\0\0"
        entries += struct.pack(
            "<64sHBBIII16sIQQIQ", name, len(name), node.kind, 1, NONE, getattr(node, "right", NONE),
            kids[0].sid if kids else NONE, root_clsid if node is root else bytes(16), 0, 0, 0, node.start, node.size,
        )
    empty = struct.pack("<64sHBBIII16sIQQIQ", b"", 0, 0, 0, NONE, NONE, NONE, b"\0" * 16, 0, 0, 0, 0, 0)
    while len(entries) % SECTOR:
        entries += empty
    dir_start = alloc(bytes(entries))

    fat_count = 1
    while fat_count * SECTOR // 4 < len(fat) + fat_count:
        fat_count += 1
    fat_sectors = list(range(len(fat), len(fat) + fat_count))
    fat.extend([FATSECT] * fat_count)
    assert fat_count <= 109, "fixture too large for a header-only DIFAT"
    fat.extend([FREE] * (fat_count * SECTOR // 4 - len(fat)))
    body.extend(struct.pack(f"<{len(fat)}I", *fat))

    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII", bytes.fromhex("D0CF11E0A1B11AE1"), b"\0" * 16, 0x3E, 3, 0xFFFE, 9, 6,
        b"\0" * 6, 0, fat_count, dir_start, 0, CUTOFF, minifat_start if minifat else END,
        len(minifat_bytes) // SECTOR if minifat else 0, END, 0,
    )
    header += struct.pack("<109I", *(fat_sectors + [FREE] * (109 - fat_count)))
    path.write_bytes(header + bytes(body))
    return path
