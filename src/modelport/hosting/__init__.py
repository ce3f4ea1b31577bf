"""The local SageMaker: models, endpoint configs and endpoints behind SageMaker's own APIs.

- :mod:`.control_api` speaks the control plane (AWS JSON 1.1, ``X-Amz-Target: SageMaker.<Op>``).
- :mod:`.runtime_api` speaks the Runtime API (``POST /endpoints/{name}/invocations``).
- :mod:`.fleet` starts and supervises ``modelport serve`` processes; :mod:`.router` spreads requests.
- :mod:`.registry` keeps everything in SQLite so a restart restores the endpoints that were InService.
- :mod:`.server` ties them together on one port (``modelport hosting``).
"""
