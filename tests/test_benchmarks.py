"""The benchmark scripts still run (small settings) and print their ratios.

No timing is asserted: the figures are for docs/benchmarks.md, not for tests. These
runs only keep the scripts from rotting between the occasions they are used,
above all bench/gpu_throughput.py, whose GPU path can only run when a GPU is
lent and whose CPU path must then still work and say it is not a GPU figure.
"""

import re
import subprocess
import sys

import pytest
from conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.needs_espeak]  # data_pipeline synthesises speech

RATIO = r"([0-9]+\.[0-9]+)"

CASES = {
    "gpu_throughput": (
        ["bench/gpu_throughput.py", "--device", "cpu"],
        [r"NOTE: no GPU here.*NOT GPU figures", rf"project / baseline: throughput x{RATIO}, MFU x{RATIO}"],
    ),
    "padding": (["bench/padding.py"], [r"padding +([0-9.]+)%"]),
    "data_pipeline": (
        ["bench/data_pipeline.py", "--clips", "16", "--epochs", "1"],
        [rf"preparation: .* x{RATIO}", rf"\n +2 +[0-9.]+ +[0-9.]+ +{RATIO}x +[0-9.]+ +{RATIO}x"],
    ),
    "train_step": (["bench/train_step.py", "--steps", "3", "--skip-large"], [rf"ratio {RATIO}"]),
    "probe": (
        ["bench/probe.py", "--skip-large", "--train", "12", "--epochs", "1"],
        [
            r"NOTE: CPU figures \(no GPU here\)",
            rf"probe without cache +[0-9.]+ s/epoch \(x{RATIO}\)",
            rf"probe with cache, second seed +[0-9.]+ s/epoch \(x{RATIO}\)",
        ],
    ),
    "evaluation_throughput": (
        ["bench/evaluation_throughput.py", "--skip-large", "--clips", "4", "--repeats", "1", "--device", "cpu"],
        [
            r"NOTE: CPU figures",
            rf"(?m)^tiny wav2vec2 +[0-9.]+ +4 +[0-9.]+ +{RATIO} +{RATIO} +[0-9.]+% +x{RATIO} +True$",
        ],
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_benchmark_runs_and_prints_its_ratios(name):
    command, patterns = CASES[name]
    done = subprocess.run([sys.executable, *command], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for pattern in patterns:
        match = re.search(pattern, done.stdout)
        assert match, f"{pattern!r} not in the output of {command}:\n{done.stdout[-2000:]}"
        assert all(float(value) > 0 for value in match.groups()), match.group(0)
