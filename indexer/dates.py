"""Find and parse publication dates written the way news sites write them."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_WEEKDAY = r"(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,?\s+)?"
DATE_PATTERN = re.compile(
    rf"{_WEEKDAY}(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2})",
    re.IGNORECASE,
)
URL_DATE_PATTERN = re.compile(r"/(\d{4})/(\d{1,2})/(\d{1,2})(?:/|$)")


@lru_cache(maxsize=4096)
def parse_date(text: str) -> date | None:
    """Parse one written date ("Wednesday, May 28, 2025") with dateparser; None if invalid."""
    import dateparser

    parsed = dateparser.parse(
        text,
        languages=["en"],
        settings={"STRICT_PARSING": True, "PREFER_DAY_OF_MONTH": "first"},
    )
    return parsed.date() if parsed else None


def date_from_url(url: str) -> date | None:
    """The date in a news URL's path (``/2025/05/28/``), or None."""
    match = URL_DATE_PATTERN.search(url)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
