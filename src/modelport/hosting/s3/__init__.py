"""hosting's S3 API: the REST-XML protocol over :mod:`modelport.objectstore`, on hosting's own port.

Requests are S3's when they are signed for service ``s3`` or name a virtual-hosted bucket in ``Host``
(see :mod:`modelport.hosting.services`).
"""

from modelport.hosting.s3.addressing import split_virtual_host, virtual_host_bucket
from modelport.hosting.s3.api import S3Api
from modelport.hosting.s3.bodies import MAX_S3_BODY

__all__ = ["S3Api", "MAX_S3_BODY", "split_virtual_host", "virtual_host_bucket"]
