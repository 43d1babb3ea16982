"""train.py --help: at once, without torch, listing the recipe's keys with defaults and meanings."""

import subprocess
import sys
import textwrap

from crossling_asr.hparams import REPO_ROOT, KeyDoc, key_docs

# What the `--help` subprocess imported, printed after the help text.
PROBE = textwrap.dedent(
    """
    import runpy, sys
    sys.argv = ["train.py", "hparams/es.yaml", "--help"]
    runpy.run_path("train.py", run_name="__main__")
    print("IMPORTED:", sorted(m for m in ("torch", "speechbrain", "transformers") if m in sys.modules))
    """
)


def test_help_lists_keys_with_defaults_and_meanings_without_importing_torch():
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO_ROOT / "recipes" / "es", capture_output=True, text=True, check=True
    )
    out = proc.stdout
    assert out.rstrip().endswith("IMPORTED: []")
    lines = [line.strip() for line in out.splitlines()]
    # The shared file's default and comment, the language file's value (marked *), a nested key.
    assert any(line.startswith("number_of_epochs=3 ") and "num_train_epochs=3.0" in line for line in lines)
    assert any(line.startswith('language="es"* ') and "Common Voice code" in line for line in lines)
    assert any(line.startswith("encoder_config.layerdrop=0.0 ") for line in lines)
    assert any(line.startswith("stock ") for line in lines)
    assert "python train.py --help-run-options lists them." in out
    # Keys built by code are not settable values.
    assert not any(line.startswith(("encoder_module", "__set_seed", "checkpointer")) for line in lines)


def test_key_docs_reads_inline_continued_and_block_comments(tmp_path):
    hparams = tmp_path / "h.yaml"
    hparams.write_text(
        textwrap.dedent(
            """\
            # ---- Run ----------------
            seed: 1
            lr: 0.1          # peak rate,
                             # reached after warm-up
            # The folder of a run. More about it here.
            folder: !ref <root>/x
            opts:            # a mapping
                depth: 2     # how deep
            model: !new:torch.nn.Linear
                in_features: 3
            name: !PLACEHOLDER
            """
        )
    )
    assert key_docs(hparams) == [
        KeyDoc("seed", "1", "", "Run"),
        KeyDoc("lr", "0.1", "peak rate, reached after warm-up", "Run"),
        KeyDoc("folder", "<root>/x", "The folder of a run", "Run"),
        KeyDoc("opts", "", "a mapping", "Run"),
        KeyDoc("opts.depth", "2", "how deep", "Run"),
        KeyDoc("name", "(required)", "", "Run"),
    ]
