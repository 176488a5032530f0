"""Uploaded files: a CSV sent as multipart/form-data or as the raw body, spooled to disk past 1 MB."""

from __future__ import annotations

import tempfile
from typing import IO

from litestar import Request
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType

from service.errors import UnsupportedMediaType, ValidationFailed


async def csv_upload(request: Request) -> IO[bytes]:
    """The uploaded file, spooled to disk past 1 MB by Litestar's streaming multipart parser."""
    content_type, _ = request.content_type
    if content_type == RequestEncodingType.MULTI_PART:
        form = await request.form()
        upload = next((value for _, value in form.multi_items() if isinstance(value, UploadFile)), None)
        if upload is None:
            raise ValidationFailed.field(
                "file", "required", message="Attach the CSV file to the form (e.g. field 'file')", code="missing_file"
            )
        return upload.file  # type: ignore[return-value]
    if content_type in ("text/csv", "application/csv", "text/plain", "application/octet-stream"):
        spooled = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115 - closed by the caller
        async for chunk in request.stream():
            spooled.write(chunk)
        spooled.seek(0)
        return spooled  # type: ignore[return-value]
    raise UnsupportedMediaType("Send a CSV file as multipart/form-data or text/csv")
