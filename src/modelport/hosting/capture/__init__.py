"""Data capture as SageMaker writes it (``DataCaptureConfig``), and what reads it back: the shadow report and
replay (see "Data capture, shadow variants and replay" in the hosting README).

- :mod:`.config`: the endpoint config's ``DataCaptureConfig``, checked, and DescribeEndpoint's summary of it.
- :mod:`.records`: one capture record (SageMaker's JSON Lines format) written and read.
- :mod:`.writer`: the bounded queue the invoke path appends to and the task that writes capture files.
- :mod:`.tap`: the invoke path's one hook: sample, capture, copy to the shadow variant.
- :mod:`.reader`: capture files read back from ``s3://``, ``file://`` or a folder.
- :mod:`.agreement`: whether two model answers agree (one rule for the shadow report and replay).
- :mod:`.report`: the shadow report; :mod:`.replay`: captured inputs sent to a candidate.
"""
