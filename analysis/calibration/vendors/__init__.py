"""One small reader per instrument vendor; each turns a file's metadata into a pixel size.

Every reader has the signature ``read(image, sidecar_text) -> MetadataReading | None``:
``None`` means "not this vendor's file"; a reading with ``pixel_size_nm=None`` means "this
vendor's file, and it says it is not calibrated" (which stops weaker generic fallbacks).
"""
