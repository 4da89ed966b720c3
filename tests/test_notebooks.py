"""The notebooks run top to bottom, each against a sandbox it starts, with no BOTKIT_* settings at all.

They run on a copy in a temporary folder, so a `.env` next to the real notebooks (perhaps with a real
app's credentials) is never read, and nothing a run writes lands in the repository.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from botkit.llm.local import LocalProvider

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"


def kernel_manager(kernels: Path) -> AsyncKernelManager:
    """A python3 kernel on this interpreter, whatever kernelspecs the machine has registered (if any)."""
    write_kernel_spec(kernels / "python3")
    specs = KernelSpecManager(kernel_dirs=[str(kernels)])
    return AsyncKernelManager(kernel_name="python3", kernel_spec_manager=specs)


def run_notebook(name: str, tmp_path: Path) -> nbformat.NotebookNode:
    folder = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, folder, ignore=shutil.ignore_patterns(".env", ".ipynb_checkpoints"))
    notebook: nbformat.NotebookNode = nbformat.read(folder / name, as_version=4)  # type: ignore[no-untyped-call]
    client = NotebookClient(
        notebook,
        km=kernel_manager(tmp_path / "kernels"),
        timeout=600,
        resources={"metadata": {"path": str(folder)}},
    )
    # nbclient leaves a kernel it was handed running; cleanup_kc shuts it down and closes its sockets.
    client.execute(cleanup_kc=True)
    return notebook


def text_of(cell: nbformat.NotebookNode) -> str:
    parts = [output.get("text", "") for output in cell.get("outputs", [])]
    parts += [output.get("data", {}).get("text/plain", "") for output in cell.get("outputs", [])]
    return "".join(parts)


def test_account_setup_notebook_gets_answers_one_to_one_and_in_a_group(tmp_path: Path) -> None:
    notebook = run_notebook("01_account_setup.ipynb", tmp_path)

    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    skipped = [cell for cell in cells if "skip-execution" in cell.metadata.get("tags", [])]
    shown = "\n".join(text_of(cell) for cell in cells)
    assert skipped and all(cell.outputs == [] for cell in skipped)
    assert "sandbox at http://127.0.0.1:" in shown
    assert "usersig=***&" in shown
    assert "robot callbacks go to http://127.0.0.1:" in shown
    assert shown.count("@RBT#001: ") == 2  # the robot's answer, one-to-one then in the group


def test_prompt_tuning_notebook_saves_the_winner_where_settings_read_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / "tuned.env"
    monkeypatch.setenv("BOTKIT_NOTEBOOK_ENV_FILE", str(env_file))

    notebook = run_notebook("02_prompt_tuning.ipynb", tmp_path)

    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    shown = "\n".join(text_of(cell) for cell in cells)
    images = [output for cell in cells for output in cell.outputs if "image/png" in output.get("data", {})]
    assert f"provider: {'local' if LocalProvider.available() else 'echo'}, because " in shown
    assert "best: prompt " in shown
    assert len(images) == 1
    if LocalProvider.available():
        assert "saved prompt " in shown or "not saved: prompt " in shown  # a tie is refused
    else:
        assert "not saved: only the stand-in provider echo was evaluated" in shown
        assert not env_file.exists()
    assert "@RBT#001: " in shown


def test_build_a_bot_notebook_chats_evaluates_and_serves_its_module(tmp_path: Path) -> None:
    notebook = run_notebook("03_build_a_bot.ipynb", tmp_path)

    shown = "\n".join(text_of(cell) for cell in notebook.cells if cell.cell_type == "code")
    assert (tmp_path / "notebooks" / "supportbot.py").exists()
    assert "'status': 'shipped'" in shown  # the tool, called directly
    assert '"name": "order_status"' in shown  # its schema, as the model sees it
    assert "bot:  We answer from 9:00 to 18:00" in shown  # the command, in the sandbox
    assert "bot:  Let's keep it friendly" in shown  # the middleware
    assert "/hours - Opening hours" in shown
    assert 'callback {"CallbackCommand": "Bot.OnC2CMessage"' in shown
    assert "rest http://sandbox.test/v4/openim/sendmsg" in shown
    assert "commands" in shown and "manners" in shown  # the suite's conversations, evaluated
    assert "bot: We answer from 9:00 to 18:00" in shown  # served by botkit serve supportbot:bot
