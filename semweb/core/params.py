"""Strict parsing of everything a client types: numbers, yes/no values and ids.

One home for "what a parameter may be", called by views, forms, DRF serializers and services, so
a value that would overflow the database (``99999999999999999999999``), poison a JSON column
(``nan``, ``inf``, ``1e400``) or be read the wrong way round (``"false"`` → ``True``) is refused
with a 400 and a message naming the parameter, before any query runs.

Every parser raises :class:`ParameterError`, a Django ``ValidationError`` keyed by the
parameter's name, so services and page views report it like any other invalid input; the DRF
fields below turn it into the serializer's own 400.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from rest_framework import serializers

# PostgreSQL integer ranges: ids are bigint (BigAutoField), counts and label indices integer.
BIGINT_MAX = 2**63 - 1
INT_MAX = 2**31 - 1
# Longer than any number a person types; keeps float()/int() away from megabyte strings.
MAX_NUMBER_CHARS = 64

# Pixel sizes anyone may type or import: 0.1 pm … 1 mm per pixel covers every SEM and TEM.
PIXEL_SIZE_RANGE_NM = (1e-4, 1e6)

# Text limits, the same for pages, forms and the API (names fit their varchar(200) columns).
NAME_MAX_CHARS = 200
DESCRIPTION_MAX_CHARS = 10_000  # a project or dataset description: a few pages
NOTES_MAX_CHARS = 20_000  # synthesis notes
COMMENT_MAX_CHARS = 5_000  # a review comment
TAG_MAX_CHARS = 64
MAX_TAGS = 50

TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})


class ParameterError(ValidationError):
    """A parameter that is not what it must be; ``message_dict`` is ``{name: [why]}``."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__({name: [message]})
        self.name = name


def _text(value: Any, name: str) -> str:
    text = str(value).strip()
    if len(text) > MAX_NUMBER_CHARS:
        raise ParameterError(name, "is too long to be a number")
    return text


def parse_float(
    value: Any,
    *,
    name: str,
    min_value: float | None = None,
    max_value: float | None = None,
    positive: bool = False,
    required: bool = True,
) -> float | None:
    """A finite float within ``[min_value, max_value]`` (``> 0`` when `positive`).

    ``None`` and ``""`` give ``None`` unless `required`. Booleans, nan, ±inf and values that
    overflow to inf (``1e400``) are refused.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ParameterError(name, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ParameterError(name, "must be a number")
    try:
        number = float(value) if not isinstance(value, str) else float(_text(value, name))
    except (ValueError, OverflowError):
        raise ParameterError(name, "must be a number") from None
    if not math.isfinite(number):
        raise ParameterError(name, "must be a finite number")
    if positive and not number > 0:
        raise ParameterError(name, "must be greater than 0")
    if min_value is not None and number < min_value:
        raise ParameterError(name, f"must be at least {min_value:g}")
    if max_value is not None and number > max_value:
        raise ParameterError(name, f"must be at most {max_value:g}")
    return number


def parse_bool(value: Any, *, name: str, default: bool | None = None) -> bool:
    """``True``/``False``, 1/0 or the words true/false, yes/no, on/off (any case).

    Anything else is refused (never ``bool("false") is True``); ``None``/``""`` give `default`
    when one is given.
    """
    if value is None or value == "":
        if default is None:
            raise ParameterError(name, "is required (true or false)")
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ParameterError(name, "must be true or false")


def parse_int(value: Any, *, name: str, min_value: int = 0, max_value: int = INT_MAX) -> int:
    """A whole number within ``[min_value, max_value]``; ``3.0`` passes, ``3.5`` and ``1e30``
    (beyond `max_value`) do not."""
    if isinstance(value, bool) or value is None:
        raise ParameterError(name, "must be a whole number")
    if isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            raise ParameterError(name, "must be a whole number")
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = _text(value, name)
        if not text.lstrip("+-").isdigit() or not text.isascii():
            raise ParameterError(name, "must be a whole number")
        number = int(text)
    else:
        raise ParameterError(name, "must be a whole number")
    if number < min_value or number > max_value:
        raise ParameterError(name, f"must be between {min_value} and {max_value}")
    return number


def parse_id(value: Any, *, name: str) -> int:
    """A database id (1 … bigint max)."""
    return parse_int(value, name=name, min_value=1, max_value=BIGINT_MAX)


def optional_id(value: Any, *, name: str) -> int | None:
    """:func:`parse_id`, or ``None`` for a missing/blank value (query-string filters)."""
    if value is None or value == "":
        return None
    return parse_id(value, name=name)


def id_or_404(value: Any) -> int:
    """An id taken from a URL or form to fetch one object: anything that cannot be an id is
    simply not found (404), as an id of a row that does not exist would be."""
    try:
        return parse_id(value, name="id")
    except ParameterError:
        raise Http404("Not found") from None


def parse_int_list(
    values: Any,
    *,
    name: str,
    min_value: int = 0,
    max_value: int = INT_MAX,
    max_items: int = 100_000,
) -> list[int]:
    """A list of whole numbers, each checked by :func:`parse_int`."""
    if not isinstance(values, list | tuple):
        raise ParameterError(name, "must be a list of whole numbers")
    if len(values) > max_items:
        raise ParameterError(name, f"has more than {max_items} items")
    return [parse_int(v, name=name, min_value=min_value, max_value=max_value) for v in values]


def parse_ids(values: Iterable[Any], *, name: str) -> list[int]:
    """Ids from ticked boxes or typed lists: every value must be an id (no silent dropping)."""
    return [parse_id(v, name=name) for v in values]


def parse_pixel_size_nm(value: Any, *, name: str = "pixel_size_nm", required: bool = False):
    """A pixel size in nm within `PIXEL_SIZE_RANGE_NM` (``None`` for blank unless `required`)."""
    lo, hi = PIXEL_SIZE_RANGE_NM
    return parse_float(
        value, name=name, positive=True, min_value=lo, max_value=hi, required=required
    )


def parse_text(value: Any, *, name: str, max_chars: int, required: bool = False) -> str:
    """Stripped text of at most `max_chars` characters (refused, never silently cut)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ParameterError(name, "must be text")
    text = value.strip()
    if "\x00" in text:
        raise ParameterError(name, "must not contain NUL characters")
    if len(text) > max_chars:
        raise ParameterError(name, f"is {len(text)} characters long; the limit is {max_chars}")
    if required and not text:
        raise ParameterError(name, "is required")
    return text


def parse_tags(tags: Any, *, name: str = "tags") -> list[str]:
    """Distinct tags in order, from a list or a comma-separated string: at most `MAX_TAGS`,
    each at most `TAG_MAX_CHARS` characters."""
    if tags is None:
        return []
    if isinstance(tags, str):
        if len(tags) > MAX_TAGS * (TAG_MAX_CHARS + 2):
            raise ParameterError(name, f"at most {MAX_TAGS} tags")
        tags = tags.split(",")
    if not isinstance(tags, list | tuple):
        raise ParameterError(name, "must be a list of tags")
    seen: dict[str, None] = {}
    for tag in tags:
        t = parse_text(tag, name=name, max_chars=TAG_MAX_CHARS)
        if t:
            seen.setdefault(t, None)
        if len(seen) > MAX_TAGS:
            raise ParameterError(name, f"at most {MAX_TAGS} tags")
    return list(seen)


def first_message(exc: ValidationError) -> str:
    """``"name: why"`` for page messages and JSON errors."""
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
    return " ".join(exc.messages)


# --- DRF fields: the same rules inside serializers (subclasses, so the schema keeps its types) --


def _drf(exc: ParameterError) -> serializers.ValidationError:
    return serializers.ValidationError(exc.message_dict[exc.name])


class FiniteFloatField(serializers.FloatField):
    """A finite float, optionally ranged (nan, inf and 1e400 are refused)."""

    def __init__(self, *, positive: bool = False, **kwargs: Any) -> None:
        self.positive = positive
        super().__init__(**kwargs)
        self.validators = []  # the range is checked by parse_float, with its message

    def to_internal_value(self, data: Any) -> float | None:
        try:
            return parse_float(
                data,
                name=self.field_name or "value",
                min_value=self.min_value,
                max_value=self.max_value,
                positive=self.positive,
            )
        except ParameterError as exc:
            raise _drf(exc) from None


class StrictBooleanField(serializers.BooleanField):
    """true/false (and the usual words); anything else is a 400, never a silent ``True``."""

    def to_internal_value(self, data: Any) -> bool:
        try:
            return parse_bool(data, name=self.field_name or "value")
        except ParameterError as exc:
            raise _drf(exc) from None


class BoundedIntegerField(serializers.IntegerField):
    """A whole number the database can hold (default 0 … integer max)."""

    def __init__(self, *, min_value: int = 0, max_value: int = INT_MAX, **kwargs: Any) -> None:
        super().__init__(min_value=min_value, max_value=max_value, **kwargs)
        self.validators = []  # the range is checked by parse_int, with its message

    def to_internal_value(self, data: Any) -> int:
        try:
            return parse_int(
                data,
                name=self.field_name or "value",
                min_value=self.min_value,
                max_value=self.max_value,
            )
        except ParameterError as exc:
            raise _drf(exc) from None


class IdField(BoundedIntegerField):
    """A database id (1 … bigint max): out-of-range ids are a 400, never a DB overflow."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=BIGINT_MAX, **kwargs)
