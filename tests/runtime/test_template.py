"""The PyTorch family's template imports what a first `torch.jit.trace` needs, and stays single-threaded."""

from __future__ import annotations

import json
import subprocess
import sys

PRELOAD_THEN_TRACE = """
import json, sys
from modelport.runtime.forking import threads
from modelport.runtime.template import preload, settle
preload("pytorch")
settle()
single = threads()
import torch
before = set(sys.modules)
with torch.inference_mode():
    torch.jit.trace(torch.nn.Linear(4, 2).eval(), torch.zeros(1, 4))
print(json.dumps({"threads": single, "imported_by_trace": sorted(set(sys.modules) - before)}))
"""


def test_pytorch_template_preloads_what_tracing_imports_and_forks_single_threaded():
    done = subprocess.run([sys.executable, "-c", PRELOAD_THEN_TRACE], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["threads"] == 1
    assert not [name for name in report["imported_by_trace"] if name.startswith(("sympy", "torch.distributed", "torch.fx"))]
