"""ListObjects(V2) semantics over the index: prefix, delimiter roll-up into common prefixes, and resuming
after the last key or common prefix a page ended with."""

from __future__ import annotations

from dataclasses import dataclass, field

from modelport.objectstore.index import Index, ObjectInfo

_BATCH = 1000


@dataclass
class Listing:
    """One page: objects and common prefixes (each counts toward max-keys), and where the next page starts."""

    objects: list[ObjectInfo] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: str = ""  # the last key or common prefix returned: resume after it


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with ``prefix`` (None: no bound)."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            return prefix[:-1] + chr(last + 1)
        prefix = prefix[:-1]
    return None


def _rolled_up(key: str, prefix: str, delimiter: str) -> str | None:
    """The common prefix ``key`` rolls up into, or None when it is listed itself."""
    if not delimiter or not key.startswith(prefix):
        return None
    at = key.find(delimiter, len(prefix))
    return key[:at + len(delimiter)] if at >= 0 else None


def list_page(index: Index, bucket: str, prefix: str, delimiter: str, after: str, max_keys: int) -> Listing:
    """The page of ``bucket`` after ``after`` (a key, or a common prefix to skip whole)."""
    page = Listing()
    if max_keys <= 0:
        return page
    start, inclusive = prefix, True
    if after and after >= prefix:
        skipped = _rolled_up(after, prefix, delimiter)
        if skipped == after:  # a page ended with this common prefix: skip every key under it
            bound = prefix_end(after)
            if bound is None:
                return page
            start, inclusive = bound, True
        else:
            start, inclusive = after, False
    end = prefix_end(prefix) if prefix else None
    while True:
        rows = index.objects_from(bucket, start, inclusive, end, _BATCH)
        if not rows:
            return page
        for info in rows:
            if len(page.objects) + len(page.prefixes) >= max_keys:
                page.truncated = True
                return page
            common = _rolled_up(info.key, prefix, delimiter)
            if common is None:
                page.objects.append(info)
                page.last = info.key
                start, inclusive = info.key, False
                continue
            page.prefixes.append(common)
            page.last = common
            bound = prefix_end(common)
            if bound is None:
                return page
            start, inclusive = bound, True
            break  # fetch again past every key under this common prefix
        else:
            if len(rows) < _BATCH:
                return page
