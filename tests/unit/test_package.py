"""The package as users install it: importable anywhere, every command answers --help
without loading the heavy libraries, no script patches sys.path."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from crossling_asr.hparams import REPO_ROOT as ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
CONSOLE_SCRIPTS = PYPROJECT["project"]["scripts"]
# Loading any of these takes seconds; --help must not wait for them (pandas, ~0.8 s, may load).
HEAVY_MODULES = ("torch", "torchaudio", "speechbrain", "transformers", "matplotlib", "urielplus")

HELP_PROBE = """
import contextlib, importlib, io, sys
module = importlib.import_module(sys.argv[1])
sys.argv = [sys.argv[1], "--help"]
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        module.main()
    except SystemExit as stop:
        assert stop.code in (0, None), stop.code
print(len(out.getvalue()))
print(" ".join(name for name in {heavy!r} if name in sys.modules))
"""


def test_the_package_imports_from_any_folder(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", "import crossling_asr.cli; print(crossling_asr.cli.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert Path(out.strip()).parent == ROOT / "crossling_asr" / "cli"


@pytest.mark.parametrize("script", sorted(CONSOLE_SCRIPTS))
def test_every_command_answers_help_without_heavy_imports(script, tmp_path):
    module = CONSOLE_SCRIPTS[script].split(":")[0]
    probe = HELP_PROBE.format(heavy=HEAVY_MODULES)
    proc = subprocess.run([sys.executable, "-c", probe, module], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    help_chars, loaded = proc.stdout.splitlines()
    assert int(help_chars) > 200  # the usage and the docstring were printed
    assert loaded == "", f"{script} --help imported {loaded}"


@pytest.mark.parametrize("script", sorted(CONSOLE_SCRIPTS))
def test_console_script_and_local_wrapper_run_the_same_main(script):
    """`crossling-<tool>` is installed beside the interpreter, and local/<tool>.py calls the same main()."""
    module = CONSOLE_SCRIPTS[script].split(":")[0]
    assert (Path(sys.executable).parent / script).is_file(), f"{script} not installed: run `make setup`"
    wrapper = ROOT / "local" / f"{module.rsplit('.', 1)[1]}.py"
    assert f"from {module} import main" in wrapper.read_text(encoding="utf-8")
    assert os.access(wrapper, os.X_OK)


def test_no_script_patches_sys_path():
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("recipes", "local", "bench", "tests", "crossling_asr")
        for path in (ROOT / folder).rglob("*.py")
        if re.search(r"sys\.path\.(insert|append)", path.read_text(encoding="utf-8")) and path != Path(__file__)
    ]
    assert offenders == []
