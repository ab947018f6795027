"""An upload handler that refuses a file as soon as it passes the per-file size limit.

Without it Django would stream a 10 GB file to a temporary file before the view could say no.
With it the oversize file is skipped (its remaining bytes are read and dropped) and the rest of
the batch still arrives; the view reports the skipped names.
"""

from __future__ import annotations

from django.core.files.uploadhandler import FileUploadHandler, SkipFile


class SizeLimitUploadHandler(FileUploadHandler):
    def __init__(self, request=None, *, limit_bytes: int):
        super().__init__(request)
        self.limit_bytes = limit_bytes
        self.refused: list[tuple[str, str]] = []  # (file name, reason)
        self._received = 0

    def new_file(self, field_name, file_name, content_type, content_length, *args, **kwargs):
        super().new_file(field_name, file_name, content_type, content_length, *args, **kwargs)
        self._received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self._received += len(raw_data)
        if self._received > self.limit_bytes:
            limit_mb = self.limit_bytes / 1048576
            self.refused.append(
                (self.file_name or "upload", f"over the {limit_mb:.0f} MB limit per file")
            )
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size: int):
        return None  # the next handlers build the file object
