"""Errors, as ``sagemaker_containers.beta.framework.errors``."""


class ClientError(Exception):
    """An error caused by the request; modelport answers 400."""

    status_code = 400


class UnsupportedFormatError(Exception):
    """A content type the encoders do not handle (415 on input, 406 on output)."""

    def __init__(self, content_type, **kwargs):
        self.message = "Content type %s is not supported by this framework." % content_type
        super().__init__(self.message, **kwargs)
