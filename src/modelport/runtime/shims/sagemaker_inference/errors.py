"""Errors, as ``sagemaker_inference.errors``; modelport answers with their ``status_code``."""


class UnsupportedFormatError(Exception):
    """A content type the encoder or decoder does not handle (415 on input, 406 on output)."""

    def __init__(self, content_type, **kwargs):
        self._message = "Content type %s is not supported by this framework." % content_type
        super().__init__(self._message, **kwargs)


class BaseInferenceToolkitError(Exception):
    """An error with an HTTP status code, message and reason phrase."""

    def __init__(self, status_code, message, phrase):
        self.status_code = status_code
        self.message = message
        self.phrase = phrase
        super().__init__(status_code, message, phrase)


class GenericInferenceToolkitError(BaseInferenceToolkitError):
    """Raise ``GenericInferenceToolkitError(400, "why")`` to answer with a client error."""

    def __init__(self, status_code, message=None, phrase=None):
        message = message or "Invalid Request"
        phrase = phrase or message
        super().__init__(status_code, message, phrase)
