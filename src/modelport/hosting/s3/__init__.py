"""hosting's S3 API: the REST-XML protocol over :mod:`modelport.objectstore`, on hosting's own port.

Requests are S3's when they are signed for service ``s3`` or name a virtual-hosted bucket in ``Host``
(see :mod:`modelport.hosting.services`).
"""

from modelport.hosting.s3.addressing import split_virtual_host, virtual_host_bucket
from modelport.hosting.s3.api import S3Api
from modelport.hosting.s3.bodies import MAX_REQUEST_BODY, MAX_UPLOAD_BODY, body_limit, too_large

__all__ = ["S3Api", "MAX_REQUEST_BODY", "MAX_UPLOAD_BODY", "body_limit", "too_large", "split_virtual_host",
           "virtual_host_bucket"]
