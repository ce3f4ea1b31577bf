"""Batch transform on local hosting: SageMaker's CreateTransformJob / DescribeTransformJob /
ListTransformJobs / StopTransformJob, run on instances of the model started as an endpoint's are.

- ``api.py``: the control-plane operations (mixed into the control API);
- ``spec.py``: a request checked and turned into a :class:`~.spec.JobSpec`;
- ``jobs.py``: the jobs of one hosting process (start, stop, restart), ``jobstore.py``: their rows in
  hosting's SQLite registry;
- ``runner.py``: one job (instances, mini-batches, bounded concurrency, ordered outputs);
- ``locations.py``: input objects and ``.out`` files (hosting's S3 store or allowed local folders),
  ``records.py``: splitting an object into requests, ``processing.py`` and ``jsonpath.py``: ``DataProcessing``.
"""
