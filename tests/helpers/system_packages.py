"""Tests whose system packages (espeak-ng, SLURM) are missing: skipped, or failed when they are required."""

import pytest


def missing_system_package(config, message):
    """Skip the running test, or fail it under --require-system-packages."""
    if config.getoption("--require-system-packages"):
        pytest.fail(f"{message}; --require-system-packages was given")
    pytest.skip(message)
