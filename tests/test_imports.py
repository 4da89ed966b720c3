"""Importing botkit pulls in no sandbox, UI or model runtime: the service stays light."""

import subprocess
import sys


def test_importing_botkit_loads_no_sandbox_gradio_or_llama() -> None:
    code = (
        "import sys, botkit, botkit.cli; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sandbox', 'gradio', 'llama_cpp'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "[]"
