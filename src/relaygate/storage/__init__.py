"""Files: the blob stores (a directory or an S3-compatible bucket), their metadata and
the files API (docs/storage.md)."""
