"""Fields of a partial update (``PATCH``) that may be left out but never sent as ``null``.

A partial update applies exactly the fields the client sent (``exclude_unset``). For a
field whose column cannot be empty (a key's ``remark``, a user's ``name``), an explicit
``null`` would reach the database as NULL and fail there as a 500. Declared with
:func:`omittable`, the field's schema says ``string`` (not ``string or null``), so a
``null`` is a 400 naming the field, and leaving the field out still changes nothing.
Fields where ``null`` means something (``expired_at: null``: never expires) stay
``X | None``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

__all__ = ["omittable"]


def omittable(**constraints: Any) -> Any:
    """A field with no default value to send: absent means "unchanged". Pydantic does not
    validate a default, so the ``None`` placeholder is never seen: ``exclude_unset``
    drops the field when it was not sent, and a sent ``null`` fails the field's type."""
    return Field(default=None, **constraints)
