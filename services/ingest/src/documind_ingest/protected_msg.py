"""Outlook messages (.msg) whose content is encrypted: the readable parts are only headers,
the content travels as an opaque attachment (S/MIME ``smime.p7m``, rights-protected
``message.rpmsg``). The partitioner finds no text in them; this names the real cause."""

from __future__ import annotations

from pathlib import Path

from documind.errors import EncryptedFile

# Message classes of encrypted content. "IPM.Note.SMIME.MultipartSigned" (clear-signed) and
# "IPM.Note.Secure.Sign" keep a readable body and are not among them.
SMIME_CLASSES = frozenset({"ipm.note.smime", "ipm.note.secure"})
RIGHTS_PROTECTED_PREFIX = "ipm.note.rpmsg"
OPAQUE_ATTACHMENTS = {"smime.p7m": "encrypted (S/MIME)", "message.rpmsg": "rights-protected (IRM)"}


def check_msg(path: Path) -> None:
    """Raise EncryptedFile for an encrypted message; anything else (including a file the
    reader cannot open) is left to the partitioner."""
    from oxmsg import Message

    try:
        msg = Message.load(str(path))
        message_class = (msg.message_class or "").lower()
        body = (msg.body or "").strip() or (msg.html_body or "").strip()
        names = [(a.file_name or "").lower() for a in msg.attachments]
    except Exception:  # noqa: BLE001 - not ours to judge: the partitioner reports a broken file
        return
    if message_class in SMIME_CLASSES:
        why = "encrypted (S/MIME)"
    elif message_class.startswith(RIGHTS_PROTECTED_PREFIX):
        why = "rights-protected (IRM)"
    else:
        # A mislabelled class: an empty body whose only content is an opaque envelope.
        why = next((OPAQUE_ATTACHMENTS[n] for n in names if n in OPAQUE_ATTACHMENTS), None) if not body else None
    if why:
        raise EncryptedFile(f"Outlook message is {why}; nothing readable to index")
