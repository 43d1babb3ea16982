"""`make demo` installs only what the demo needs; `make test` also installs SLURM for the cluster tests."""

import shutil
import subprocess

import pytest

from crossling_asr.hparams import REPO_ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def planned_commands(target, tmp_path):
    """The commands `make TARGET` would run (make -n), with a virtual environment that does not exist yet."""
    proc = subprocess.run(
        ["make", "-n", target, f"VENV={tmp_path / 'venv'}"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return proc.stdout.splitlines()


def package_installs(commands):
    return [c for c in commands if "install_system_packages.sh" in c]


def test_make_demo_does_not_install_slurm(tmp_path):
    assert package_installs(planned_commands("demo", tmp_path)) == ["bash local/install_system_packages.sh"]


def test_make_test_installs_slurm(tmp_path):
    assert "bash local/install_system_packages.sh --with-slurm" in package_installs(planned_commands("test", tmp_path))
