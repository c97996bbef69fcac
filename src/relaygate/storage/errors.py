"""The storage capability's errors: which limit an upload hit, in the platform envelope."""

from __future__ import annotations

from relaygate.core.errors import PayloadTooLarge, PermissionDenied

__all__ = ["FileTooLarge", "QuotaExceeded"]


class FileTooLarge(PayloadTooLarge):
    """413: the file is larger than one file may be for the user's membership tier."""

    default_code = "file_too_large"


class QuotaExceeded(PermissionDenied):
    """403: the file would take the user's stored bytes past their tier's quota."""

    default_code = "storage_quota_exceeded"
