"""Importing any botkit module pulls in no sandbox, UI or model runtime: the service stays light.

Each module is imported alone in a fresh interpreter (as click's tests/test_imports.py does), so
one module's imports cannot hide behind another's.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

import botkit

FORBIDDEN = {"sandbox", "gradio", "llama_cpp"}
# botkit.__main__ runs the CLI when imported; all it imports is botkit.cli, which is checked.
MODULES = sorted(
    ["botkit"]
    + [
        info.name
        for info in pkgutil.walk_packages(botkit.__path__, "botkit.")
        if info.name != "botkit.__main__"
    ]
)

CHECK = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def _loaded_by(module: str) -> set[str]:
    """The top-level packages loaded once `module` alone is imported in a fresh interpreter."""
    result = subprocess.run([sys.executable, "-c", CHECK, module], capture_output=True, text=True, check=True)
    return set(json.loads(result.stdout))


@pytest.fixture(scope="module")
def loaded() -> dict[str, set[str]]:
    """What importing each module loads; a few interpreters at a time, as most of each is waiting."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(MODULES, pool.map(_loaded_by, MODULES), strict=True))


def test_every_module_is_checked() -> None:
    assert {
        "botkit",
        "botkit.cli",
        "botkit.lab.notebook",
        "botkit.lab.sandboxprocess",
        "botkit.llm.local",
    } <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_importing_a_module_loads_no_sandbox_gradio_or_llama(
    loaded: dict[str, set[str]], module: str
) -> None:
    assert loaded[module] & FORBIDDEN == set()
