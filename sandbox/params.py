"""Reading Bot API parameters from JSON, url-encoded or multipart requests alike.

Clients differ: PTB posts url-encoded fields whose non-string values are JSON-encoded
(multipart when a file is attached), others post JSON. Every getter accepts both.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from .errors import bad_request


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content_type: str | None
    data: bytes


def _header_param(header: str, name: str) -> str | None:
    extended = re.search(rf"(?:^|;)\s*{name}\*\s*=\s*([^;]+)", header, re.IGNORECASE)
    if extended:
        # RFC 5987: charset'language'percent-encoded
        _charset, _, encoded = extended.group(1).strip().partition("''")
        return unquote(encoded)
    quoted = re.search(rf'(?:^|;)\s*{name}\s*=\s*"((?:[^"\\]|\\.)*)"', header, re.IGNORECASE)
    if quoted:
        value = re.sub(r"\\(.)", r"\1", quoted.group(1))
        # The HTML5 form encoding (httpx, browsers) escapes quotes and control characters.
        return re.sub(r"%(22|[01][0-9A-Fa-f])", lambda m: chr(int(m.group(1), 16)), value)
    bare = re.search(rf"(?:^|;)\s*{name}\s*=\s*([^;\s]+)", header, re.IGNORECASE)
    return bare.group(1) if bare else None


def parse_multipart(
    body: bytes, content_type: str
) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    boundary = _header_param(content_type, "boundary")
    if not boundary:
        raise ValueError("multipart body without a boundary")
    fields: dict[str, str] = {}
    files: dict[str, UploadedFile] = {}
    # A delimiter is CRLF + "--" + boundary; the first one may start the body bare.
    parts = (b"\r\n" + body).split(b"\r\n--" + boundary.encode("latin-1"))
    for part in parts[1:]:
        if part.startswith(b"--"):
            break
        _padding, _, part = part.partition(b"\r\n")
        head, separator, content = part.partition(b"\r\n\r\n")
        if not separator:
            raise ValueError("multipart part without a header block")
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", errors="replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        name = _header_param(disposition, "name")
        if name is None:
            continue
        filename = _header_param(disposition, "filename")
        if filename is None:
            fields[name] = content.decode("utf-8", errors="replace")
        else:
            files[name] = UploadedFile(filename, headers.get("content-type"), content)
    return fields, files


def parse_body(body: bytes, content_type: str) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    if not body:
        return {}, {}
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/json":
        decoded = json.loads(body)
        if not isinstance(decoded, dict):
            raise ValueError("a JSON body must be an object")
        return decoded, {}
    if media_type == "multipart/form-data":
        fields, files = parse_multipart(body, content_type)
        return dict(fields), files
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)), {}


class Params:
    def __init__(self, values: dict[str, Any], files: dict[str, UploadedFile]) -> None:
        self._values = values
        self._files = files

    def has(self, name: str) -> bool:
        return self._values.get(name) not in (None, "") or name in self._files

    def text(self, name: str) -> str | None:
        value = self._values.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else str(value)

    def required_text(self, name: str, error: str | None = None) -> str:
        value = self.text(name)
        if value is None or value == "":
            raise bad_request(error or f"{name} is empty")
        return value

    def integer(self, name: str) -> int | None:
        value = self._values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise bad_request(f"invalid {name} specified")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def number(self, name: str) -> float | None:
        value = self._values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self._values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def obj(self, name: str, error: str | None = None) -> Any:
        """A JSON-valued parameter (object or array), decoded if it came as a string."""
        value = self._values.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(error or f"can't parse {name} JSON object") from None
        return value

    def chat_ref(self, name: str = "chat_id") -> int | str:
        value = self._values.get(name)
        if value is None or value == "":
            raise bad_request(f"{name} is empty")
        if isinstance(value, str) and value.startswith("@"):
            return value
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None

    def chat_hint(self) -> int | None:
        """The numeric chat_id, if any, for matching faults aimed at one chat."""
        try:
            return int(self._values.get("chat_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None

    def input_file(self, name: str) -> UploadedFile | str | None:
        """An uploaded file, an attach://name reference to one, or a file_id/URL string."""
        if name in self._files:
            return self._files[name]
        value = self.text(name)
        if value and value.startswith("attach://"):
            attached = self._files.get(value.removeprefix("attach://"))
            if attached is None:
                raise bad_request(f"file {value} not found in the request")
            return attached
        return value or None
