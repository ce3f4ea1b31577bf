"""Build, validate and safely unpack SageMaker-layout ``model.tar.gz`` archives.

- :func:`pack_archive` writes an archive as the SageMaker SDK does: artifacts at the root, ``code/``.
- :func:`safe_extract` unpacks one, refusing anything that could write outside the destination.
- :func:`extract_cached` unpacks once per archive content into a cache folder.
"""

from modelport.archive.errors import ArchiveError, ArchiveWarning, UnsafeArchiveError
from modelport.archive.pack import pack_archive
from modelport.archive.unpack import DEFAULT_MAX_BYTES, extract_cached, safe_extract

__all__ = [
    "ArchiveError",
    "ArchiveWarning",
    "UnsafeArchiveError",
    "DEFAULT_MAX_BYTES",
    "pack_archive",
    "safe_extract",
    "extract_cached",
]
