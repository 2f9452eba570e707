"""Uploaded documents: a safe file name, the type read from the content, and its task-data form.

The bytes themselves are stored by the web layer; the task data keeps only a description
(`Upload.to_data`), with the sha256 that ties it to the stored file.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property

MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
PDF = "application/pdf"
JPEG = "image/jpeg"
# Magic numbers: a document's type is what its first bytes say, never its name.
MAGIC: dict[str, bytes] = {PDF: b"%PDF-", JPEG: b"\xff\xd8\xff"}
KIND_NAMES: dict[str, str] = {PDF: "PDF", JPEG: "JPEG"}
MAX_NAME_LENGTH = 200
DEFAULT_NAME = "dokumen"


def sniff(content: bytes) -> str | None:
    """The media type that `content` starts with (PDF or JPEG), or None."""
    for media_type, magic in MAGIC.items():
        if content.startswith(magic):
            return media_type
    return None


def safe_filename(name: str) -> str:
    """The last part of a submitted path, without control characters or leading dots."""
    name = unicodedata.normalize("NFC", name)
    # Browsers and clients send Unix, Windows ("C:\\Users\\a\\ktp.pdf") and drive-relative
    # ("C:ktp.pdf") names: anything up to the last separator is a path, not a name.
    for separator in ("\\", ":"):
        name = name.replace(separator, "/")
    name = name.rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".").strip()
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            name = stem[: MAX_NAME_LENGTH - len(extension) - 1] + "." + extension
        else:
            name = name[:MAX_NAME_LENGTH]
    return name or DEFAULT_NAME


@dataclass(frozen=True)
class Upload:
    """One submitted file: its safe name and its bytes."""

    filename: str
    content: bytes = field(repr=False)

    @classmethod
    def received(cls, filename: str, content: bytes | bytearray | memoryview) -> Upload:
        """An upload as a client sent it: the name is reduced to a safe basename."""
        if not isinstance(filename, str) or not isinstance(content, bytes | bytearray | memoryview):
            raise TypeError("an upload is a (file name, bytes) pair")
        return cls(safe_filename(filename), bytes(content))

    @property
    def size(self) -> int:
        """The size in bytes."""
        return len(self.content)

    @property
    def media_type(self) -> str | None:
        """The type read from the content: ``application/pdf``, ``image/jpeg`` or None."""
        return sniff(self.content)

    @cached_property
    def sha256(self) -> str:
        """The hex sha256 of the content."""
        return hashlib.sha256(self.content).hexdigest()

    def to_data(self) -> dict[str, object]:
        """The description kept in the task data."""
        return {
            "nama_file": self.filename,
            "jenis": self.media_type,
            "ukuran": self.size,
            "sha256": self.sha256,
        }
