"""The text of a new recipe's README.md (its results table is crossling_asr.analysis.recipe_readmes')."""

from crossling_asr.analysis.recipe_readmes import results_section
from crossling_asr.registry import load_registry

README_TEMPLATE = """\
# Common Voice 7.0 {name} ({code})

CTC fine-tuning of a pre-trained wav2vec2-family encoder on {name} speech, as in
"On the Cross-lingual Transferability of Pre-trained wav2vec2-based Models"
(Grosman et al.). `train.py` is the same file in every language directory; all
that is {name} is in `hparams/{code}.yaml` (text rules, metric, synthetic voice).
The experiment itself (optimiser, batching, encoder settings) is the shared
`hparams/ctc_study.yaml` of the repository root.

## How to run

    cd recipes/{code}
    python train.py hparams/{code}.yaml --data_folder=/path/to/cv-corpus-7.0-2021-07-21/{code}

Choose the encoder with `--encoder=<name>`, a name from `hparams/encoders.yaml`
(default `xlsr-53`), and the seed with `--seed`:

    python train.py hparams/{code}.yaml --data_folder=/path/to/cv-corpus-7.0-2021-07-21/{code} \\
        --encoder=xls-r-300m --seed=2

Encoders: {encoders}.

Data preparation (MP3 to 16 kHz WAV, once, shared by all runs of the language)
writes `results/prepared/{code}/` with `prep_report.json` (rows kept and skipped,
by reason); each run writes `results/{code}/<encoder>/seed_<seed>/results.json`.
Primary metric: **{metric}**{metric_note}.

## Text normalisation

{normalisation}

{results}"""

COMMON_STEPS = (
    "Every language goes through the same steps (crossling_asr/data/text.py): Unicode NFKC, "
    "lower-casing, typographic apostrophes unified to ', the language's character map, "
    "punctuation and symbols that are not read out (emoji, bullets) to spaces, invisible "
    "format characters deleted. Training sentences that still contain digits, symbols read "
    "as words (& % @ § ° # + = currency signs) or characters outside the alphabet are skipped "
    "and counted in prep_report.json (numbers are not spelled out); dev and test keep "
    "every sentence."
)


def render_readme(code, name, normalisation, primary_metric="WER"):
    """README.md of a recipe directory: how to run it, its text rules, an empty results table."""
    names = list(load_registry())
    note = (
        ""
        if primary_metric == "WER"
        else (" (written without spaces between words: WER would count whole sentences; WER is reported too)")
    )
    return README_TEMPLATE.format(
        code=code,
        name=name,
        encoders=", ".join(f"`{n}`" for n in names),
        metric=primary_metric,
        metric_note=note,
        normalisation=normalisation + "\n\n" + COMMON_STEPS,
        results=results_section(names),
    )
