"""The local object store behind hosting's S3 API: buckets and objects on disk under ``MODELPORT_HOME/s3``.

>>> store = ObjectStore(home / "s3")
>>> store.create_bucket("sagemaker-us-east-1-123456789012", "us-east-1")
"""

from modelport.objectstore.errors import ObjectStoreError
from modelport.objectstore.index import BucketInfo, ObjectInfo, PartInfo, UploadInfo
from modelport.objectstore.listing import Listing
from modelport.objectstore.store import MIN_PART_SIZE, ObjectStore

__all__ = ["ObjectStore", "ObjectStoreError", "BucketInfo", "ObjectInfo", "PartInfo", "UploadInfo", "Listing",
           "MIN_PART_SIZE"]
