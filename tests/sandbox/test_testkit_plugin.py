"""The pytest plugin loads in every project that installs botkit, even one without pytest-asyncio."""

import subprocess
import sys

WITHOUT_PYTEST_ASYNCIO = """
import importlib.util, sys
find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, *args: None if name == "pytest_asyncio" else find_spec(name, *args)
sys.modules["pytest_asyncio"] = None
import sandbox.testkit
print(sandbox.testkit.sandbox.__name__)
"""


def test_the_plugin_imports_without_pytest_asyncio() -> None:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_PYTEST_ASYNCIO], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "sandbox"
