"""``worker.Response``, as ``sagemaker_containers.beta.framework.worker`` (a Flask-like response)."""


class Response(object):
    """A response with its own body, status and mimetype; modelport sends it as given."""

    default_mimetype = "text/plain"

    def __init__(self, response=None, status=200, headers=None, mimetype=None, content_type=None, **kwargs):
        if response is None:
            response = b""
        elif isinstance(response, str):
            response = response.encode("utf-8")
        elif not isinstance(response, (bytes, bytearray)):
            response = b"".join(r.encode("utf-8") if isinstance(r, str) else bytes(r) for r in response)
        self.response = bytes(response)
        self.status_code = int(status)
        self.headers = dict(headers or {})
        self.mimetype = mimetype or content_type or self.default_mimetype

    @property
    def content_type(self):
        return self.mimetype

    def get_data(self, as_text=False):
        return self.response.decode("utf-8") if as_text else self.response
