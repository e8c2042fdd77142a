"""Files: what users and the bot send, addressable by file_id and by download path."""

from __future__ import annotations

import hashlib
import mimetypes
import struct
import zlib
from pathlib import PurePosixPath
from typing import Literal

from .model import StoredFile

FileKind = Literal["photo", "document"]

# Real file_ids are opaque base64; these prefixes only make the kind visible when debugging.
_ID_PREFIX: dict[FileKind, str] = {"photo": "AgACAgIAAxkBAAI", "document": "BQACAgIAAxkBAAI"}
_PLACEHOLDER_SIZE = (320, 240)


def image_info(data: bytes) -> tuple[str, int, int] | None:
    """Format ("png", "gif", "jpeg"), width and height of an image, read from its header."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return "png", int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return "gif", int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        index = 2
        while index + 9 < len(data):
            if data[index] != 0xFF:
                index += 1
                continue
            marker = data[index + 1]
            length = struct.unpack(">H", data[index + 2 : index + 4])[0]
            # SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[index + 5 : index + 9])
                return "jpeg", int(width), int(height)
            index += 2 + length
    return None


def placeholder_png(width: int, height: int) -> bytes:
    """A plain grey PNG, for photos a test sends by name only."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + b"\xc8" * width  # filter byte, then one grey byte per pixel
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


class FileStore:
    def __init__(self) -> None:
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._counter = 0

    def get(self, file_id: str) -> StoredFile | None:
        return self._by_id.get(file_id)

    def by_path(self, file_path: str) -> StoredFile | None:
        return self._by_path.get(file_path)

    def add(
        self,
        kind: FileKind,
        data: bytes | None,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        source_url: str | None = None,
    ) -> StoredFile:
        self._counter += 1
        if data is None:
            data = (
                placeholder_png(*_PLACEHOLDER_SIZE)
                if kind == "photo"
                else f"sandbox placeholder for {file_name or 'a document'}\n".encode()
            )
        width = height = 0
        if kind == "photo":
            # The type comes from the bytes, not the upload's claims, like Telegram's re-encode.
            image_format, width, height = image_info(data) or ("jpeg", *_PLACEHOLDER_SIZE)
            mime_type = f"image/{image_format}"
            suffix = ".jpg" if image_format == "jpeg" else f".{image_format}"
            folder = "photos"
        else:
            mime_type = mime_type or mimetypes.guess_type(file_name or "")[0]
            suffix = PurePosixPath(file_name or "").suffix
            folder = "documents"
        digest = hashlib.sha256(data).hexdigest()
        stored = StoredFile(
            file_id=f"{_ID_PREFIX[kind]}{self._counter:06d}{digest[:16]}",
            # Same bytes, same unique id: Telegram's file_unique_id identifies the content.
            file_unique_id=f"AQAD{digest[:12]}",
            kind=kind,
            file_path=f"{folder}/file_{self._counter}{suffix}",
            data=data,
            # Telegram keeps no name for photos; documents keep theirs.
            file_name=file_name if kind == "document" else None,
            mime_type=mime_type,
            width=width,
            height=height,
            source_url=source_url,
        )
        self._by_id[stored.file_id] = stored
        self._by_path[stored.file_path] = stored
        return stored
