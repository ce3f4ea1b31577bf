"""``sagemaker_containers.beta.framework.modules``: importable, so scripts that list it load.

Serving scripts import it with the rest of the framework but do not use it; module installation
and import are modelport's job (``handlers.py``, ``requirements.py``).
"""


def import_module(uri, name="user_module", cache=None):
    """Import an already importable module by name (no download or install here)."""
    import importlib

    return importlib.import_module(name)
