"""The page on S3 static website hosting: public-read for this bucket's objects only, right Content-Type
per file, and a ``config.json`` that points the page at the API (the page reads it at run time)."""

from __future__ import annotations

import hashlib
import json
import mimetypes
from pathlib import Path

from botocore.exceptions import ClientError

from modelport.aws.calls import Calls
from modelport.aws.errors import is_missing
from modelport.aws.names import Names
from modelport.aws.s3 import bucket_exists, create_bucket

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".json": "application/json", ".map": "application/json", ".svg": "image/svg+xml",
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".webp": "image/webp", ".ico": "image/x-icon", ".txt": "text/plain; charset=utf-8",
    ".woff": "font/woff", ".woff2": "font/woff2", ".wasm": "application/wasm",
    ".webmanifest": "application/manifest+json",
}
SITE_ACCESS = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
               "RestrictPublicBuckets": False}


class PageError(FileNotFoundError):
    """The built page is missing."""


def content_type(path: Path) -> str:
    """Content-Type of a page file (our table first, then the system's guess)."""
    return CONTENT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def cache_control(key: str) -> str:
    """Hashed assets may be cached for good; index.html and config.json must be re-read."""
    if key.startswith("assets/"):
        return "public, max-age=31536000, immutable"
    if key in ("index.html", "config.json"):
        return "no-cache"
    return "public, max-age=300"


def read_policy(bucket: str) -> dict:
    """Anyone may read this bucket's objects — nothing else, nowhere else."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "PublicReadSite", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/*"}]}


def page_files(page_dir: Path, api_url: str) -> dict[str, bytes]:
    """Every file to publish, by key; ``config.json`` written for ``api_url``."""
    if not (page_dir / "index.html").is_file():
        raise PageError(f"no built page in {page_dir} (index.html missing): run `npm --prefix page run build`, "
                        "or set page_dir = \"\" to deploy without the page")
    files = {p.relative_to(page_dir).as_posix(): p.read_bytes() for p in sorted(page_dir.rglob("*")) if p.is_file()}
    files["config.json"] = (json.dumps({"apiBase": api_url}, indent=2) + "\n").encode()
    return files


def website_url(names: Names) -> str:
    """The page's public URL."""
    return names.site_origin + "/"


def ensure_site(calls: Calls, names: Names, page_dir: Path, api_url: str) -> tuple[str, dict[str, str]]:
    """Create/configure the website bucket and sync the page; returns (action, key → what was done)."""
    files = page_files(page_dir, api_url)
    bucket = names.site_bucket
    s3 = calls.client("s3")
    action = "unchanged"
    existing: dict[str, str] = {}
    if not bucket_exists(calls, bucket):
        create_bucket(calls, bucket, names)
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=SITE_ACCESS)
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(read_policy(bucket)))
        s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration={
            "IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "index.html"}})
        action = "created"
    else:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            existing.update({o["Key"]: o["ETag"].strip('"') for o in page.get("Contents", [])})
    done = {}
    for key, body in files.items():
        if existing.get(key) == hashlib.md5(body).hexdigest():
            done[key] = "unchanged"
            continue
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type(Path(key)),
                      CacheControl=cache_control(key))
        done[key] = "uploaded"
    stale = sorted(set(existing) - set(files))
    if stale:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale], "Quiet": True})
        done.update({k: "deleted" for k in stale})
    if action == "unchanged" and any(v != "unchanged" for v in done.values()):
        action = "updated"
    return action, done


def read_site_config(calls: Calls, names: Names) -> dict | None:
    """The published config.json, or None."""
    try:
        body = calls.client("s3").get_object(Bucket=names.site_bucket, Key="config.json")["Body"].read()
        return json.loads(body)
    except ClientError as exc:
        if is_missing(exc):
            return None
        raise
