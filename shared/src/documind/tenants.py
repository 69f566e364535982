"""The one definition of a valid tenant name.

A tenant names a folder in the file store and a filter on every read, so only a
conservative pattern is accepted: no separators, dots or case tricks that could make two
spellings reach one tenant's data (``a/../b`` resolved into tenant ``b``'s folder)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

TENANT_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
TENANT_RULE = "1-64 characters: lowercase letters, digits, '-' or '_', starting with a letter or digit"


class InvalidTenant(ValueError):
    """A tenant name outside TENANT_PATTERN (a ValueError, so pydantic reports it as a field error)."""


def validate_tenant(value: object) -> str:
    """``value`` if it is a valid tenant name; else InvalidTenant naming the rule."""
    if isinstance(value, str) and TENANT_PATTERN.fullmatch(value):
        return value
    # repr() keeps the message on one line whatever the input holds; long input is cut.
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    raise InvalidTenant(f"invalid tenant {shown}: {TENANT_RULE}")


# For pydantic models (settings, message contracts): same check, same message.
Tenant = Annotated[str, AfterValidator(validate_tenant)]
