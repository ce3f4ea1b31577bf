"""Multi-model serving (SageMaker MME's container contract): ``modelport serve --multi-model DIR``, or an
instance hosting starts with ``SAGEMAKER_MULTI_MODEL=true``. See :mod:`.app` for the API and
:mod:`.models` for how each model runs."""
