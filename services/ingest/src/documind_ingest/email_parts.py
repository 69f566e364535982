"""The attachments of an e-mail (.eml, .msg), taken out so that each passes the same upload
checks as a file of its own (size, type, zip bomb, pixel, page and text budgets) before it is
extracted. unstructured would partition every attachment itself, unchecked: a zip-bomb .docx
or a 40000 × 40000 pixel PNG attached to a harmless e-mail went straight to its parsers."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator


@dataclass(frozen=True)
class Attachment:
    name: str
    data: bytes


def iter_attachments(path: Path, kind: str) -> Iterator[Attachment]:
    if kind == "msg":
        from oxmsg import Message

        for number, att in enumerate(Message.load(str(path)).attachments, start=1):
            if att.file_bytes:
                yield Attachment(att.file_name or f"attachment-{number}", att.file_bytes)
        return
    with path.open("rb") as fh:
        msg = email.message_from_binary_file(fh, policy=email.policy.default)
    for number, part in enumerate(msg.iter_attachments(), start=1):
        data = part.get_payload(decode=True)
        if data:
            yield Attachment(part.get_filename() or f"attachment-{number}", data)
