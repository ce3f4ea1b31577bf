"""Which AWS service a request on hosting's one port is for.

Every AWS SDK signs a request for its service: SigV4's credential scope
(``Credential=KEY/DATE/REGION/SERVICE/aws4_request``, in ``Authorization`` or a presigned URL's
``X-Amz-Credential``) names ``sagemaker`` (control and runtime APIs), ``s3``, ``sts``, ``iam``, ``logs`` or
``application-autoscaling``.
A ``Host`` naming a virtual-hosted bucket, or an S3 SigV2 signature, means S3. Anything else (a bearer
token, no credentials) is hosting's own routes: the SageMaker APIs, ``/ping`` and ``/_modelport/``.
Only headers are read, so the choice can be made before the body arrives (e.g. to pick a body limit).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from modelport.hosting.s3.addressing import virtual_host_bucket

SAGEMAKER = "sagemaker"
S3 = "s3"
APPLICATION_AUTOSCALING = "application-autoscaling"  # Application Auto Scaling's SigV4 signing name
_SCOPE = re.compile(r"Credential=[^/,\s]*/\d{8}/[^/]*/([^/,\s]+)/aws4_request")
_QUERY_SCOPE = re.compile(r"(?:^|&)X-Amz-Credential=([^&]*)")


def signed_service(headers: dict[str, str], query: str) -> str | None:
    """The service named by the request's SigV4 credential scope, or None when it has none."""
    found = _SCOPE.search(headers.get("authorization", ""))
    if found:
        return found.group(1)
    presigned = _QUERY_SCOPE.search(query)
    if presigned:
        parts = unquote(presigned.group(1)).split("/")
        if len(parts) == 5 and parts[4] == "aws4_request":
            return parts[3]
    return None


def service_of(headers: dict[str, str], query: str) -> str:
    """``s3``, ``sts``, ``iam``, ``logs``, ``sagemaker`` (also for unsigned requests), or another signed name."""
    signed = signed_service(headers, query)
    if signed:
        return signed
    if virtual_host_bucket(headers.get("host", "")) is not None or headers.get("authorization", "").startswith("AWS "):
        return S3
    return SAGEMAKER
