"""`pip install ./contracts` works in an empty virtualenv, with pydantic its only dependency
(FastStream comes only with the `faststream` extra, cryptography with `sealed`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NAME = "'credflow-contracts'"


def test_contracts_install_alone_and_the_example_consumer_imports_resolve(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]

    subprocess.run([*pip, str(REPO / "contracts")], check=True)
    installed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    names = {line.split("==")[0].lower().replace("_", "-") for line in installed.splitlines()}
    assert names - {"pip", "setuptools", "wheel"} == {
        "credflow-contracts", "pydantic", "pydantic-core", "annotated-types",
        "typing-extensions", "typing-inspection",
    }  # fmt: skip

    requires = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.requires(" + NAME + "))"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    # pydantic always; FastStream only with the `faststream` extra (its subscriber kit),
    # cryptography only with `sealed` (opening personal fields), and with httpx for the kit's
    # `personal-data` (fetching keys).
    assert requires.strip() == (
        "['pydantic<3,>=2.7', \"faststream[kafka]<0.8,>=0.7.8; extra == 'faststream'\","
        ' "cryptography>=43; extra == \'personal-data\'", "httpx>=0.27; extra =='
        " 'personal-data'\", \"cryptography>=43; extra == 'sealed'\"]"
    )

    # The example consumer needs aiokafka besides the contracts, nothing from the workspace.
    subprocess.run([*pip, "aiokafka"], check=True)
    help_text = subprocess.run(
        [str(python), str(REPO / "contracts" / "examples" / "consumer.py"), "--help"],
        check=True, capture_output=True, text=True, cwd=tmp_path,
    ).stdout  # fmt: skip
    assert "Print credflow credential events" in help_text
