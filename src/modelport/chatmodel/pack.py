"""Pack the chat model: its artifacts plus ``src/modelport/bundled_models/chat/code`` and the shared network/tokenizer modules.

``inference.py`` must not import modelport, so the network and tokenizer modules of this package
(which import nothing of modelport) are copied into the archive's ``code/`` folder beside it.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

DEPLOYABLE_MODULES = ("chat_network.py", "chat_tokenizer.py")


def assemble_chat_code(destination: Path) -> Path:
    """Write the chat model's complete code/ folder to `destination`."""
    from modelport.training.packaging import models_root, pinned_requirements

    source = models_root() / "chat" / "code"
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "inference.py", destination / "inference.py")
    here = Path(__file__).resolve().parent
    for module in DEPLOYABLE_MODULES:
        shutil.copy2(here / module, destination / module)
    (destination / "requirements.txt").write_text(pinned_requirements(source / "requirements.txt"))
    return destination


def pack_chat_model(artifacts: Path, output: Path, *, quiet: bool = False) -> Path:
    """`artifacts` + the chat code/ folder → `output` (a SageMaker-layout model.tar.gz)."""
    from modelport.archive.pack import pack_archive

    with tempfile.TemporaryDirectory(prefix="modelport-code-chat-") as scratch:
        code = assemble_chat_code(Path(scratch) / "code")
        return pack_archive(artifacts, output, code=code)
