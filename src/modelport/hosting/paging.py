"""Filtering, sorting and pagination of the control API's List* answers, shared by every List operation
(``NameContains``, ``CreationTime*``, ``SortBy``, ``SortOrder``, ``MaxResults``, ``NextToken``), and the plain
``MaxResults``/``NextToken`` window under them (also Application Auto Scaling's Describe* pages)."""

from __future__ import annotations

from typing import Any

from modelport.hosting import validation as check
from modelport.hosting.errors import validation


def page(params: dict[str, Any], rows: list[dict[str, Any]], key: str, name_key: str,
         status_key: str = "EndpointStatus") -> dict[str, Any]:
    """Filter, sort and paginate a List* answer (NameContains, CreationTime*, SortBy, SortOrder, MaxResults, NextToken)."""
    contains = params.get("NameContains")
    if contains:
        rows = [r for r in rows if contains.lower() in r[name_key].lower()]
    before, after = params.get("CreationTimeBefore"), params.get("CreationTimeAfter")
    if before is not None:
        rows = [r for r in rows if r["CreationTime"] < float(before)]
    if after is not None:
        rows = [r for r in rows if r["CreationTime"] > float(after)]
    sort_by = params.get("SortBy", "CreationTime")
    if sort_by not in ("Name", "CreationTime", "Status"):
        raise check.constraint(sort_by, "sortBy", "Member must satisfy enum value set: [Name, CreationTime, Status]")
    order = params.get("SortOrder", "Descending")
    if order not in ("Ascending", "Descending"):
        raise check.constraint(order, "sortOrder", "Member must satisfy enum value set: [Ascending, Descending]")
    field = {"Name": name_key, "CreationTime": "CreationTime", "Status": status_key}[sort_by]
    rows.sort(key=lambda r: r.get(field, ""), reverse=order == "Descending")
    return window(params, rows, key, 100, 10)


def window(params: dict[str, Any], rows: list[dict[str, Any]], key: str, maximum: int,
           default: int | None = None) -> dict[str, Any]:
    """One page of ``rows`` (already filtered and sorted) under ``key``: ``MaxResults`` (1..``maximum``, default
    ``default`` or ``maximum``) from ``NextToken`` on, with the next page's ``NextToken`` when there is more."""
    limit = params.get("MaxResults", default or maximum)
    if not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise check.constraint(limit, "maxResults", f"Member must have value between 1 and {maximum}")
    start = start_of(params.get("NextToken"))
    out: dict[str, Any] = {key: rows[start:start + limit]}
    if start + limit < len(rows):
        out["NextToken"] = str(start + limit)
    return out


def start_of(token: Any) -> int:
    """Where a page starts: the NextToken of the previous answer (a small whole number), or 0."""
    if not token:
        return 0
    if not (isinstance(token, str) and token.isascii() and token.isdigit() and len(token) <= 9):
        raise validation("Invalid pagination token; pass the NextToken of the previous response.")
    return int(token)
