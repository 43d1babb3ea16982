"""The results table of each recipe's README.md, written from a results root.

Each recipes/<lang>/README.md holds its table between RESULTS_BEGIN and
RESULTS_END; `python local/report.py --results-root R --out report
--update-recipe-readmes` rewrites what is between them (and nothing else)
with every encoder's test WER and CER, mean ± sample std over seeds, a cell
with fewer seeds than expected saying how many it has, an encoder with no
finished run marked "not run". local/new_language.py writes a new recipe's
README with the same markers and every encoder "not run".
"""

from pathlib import Path

from crossling_asr.analysis.aggregate import format_mean_std, summarize
from crossling_asr.atomic import write_text
from crossling_asr.hparams import RECIPES_DIR

RESULTS_BEGIN = "<!-- results table: written by `local/report.py --update-recipe-readmes` -->"
RESULTS_END = "<!-- end of results table -->"
NOT_RUN = "not run"


def results_table(encoders, summary=None, seeds=None):
    """The Markdown between the markers: one row per encoder of `encoders`, in that order.

    summary: aggregate.summarize's rows of one language (None: no runs);
    seeds: the seeds every encoder should have (None: no runs yet).
    """
    cells = {} if summary is None else {row.encoder: row for row in summary.itertuples(index=False)}
    if cells:
        expected = len(seeds)
        intro = (
            f"Test error rates in percent (`results.json` of each run: `metrics.test`), mean ± sample "
            f"standard deviation over seeds {', '.join(map(str, seeds))}; a cell with fewer seeds says how "
            f'many it has; "{NOT_RUN}": no finished run.'
        )
    else:
        intro = f'No finished runs yet: every encoder is "{NOT_RUN}".'
    lines = [RESULTS_BEGIN, "", intro, "", "| encoder | test WER | test CER |", "|---|---|---|"]
    for encoder in encoders:
        cell = cells.get(encoder)
        if cell is None:
            lines.append(f"| {encoder} | {NOT_RUN} | {NOT_RUN} |")
            continue
        values = [
            format_mean_std(
                getattr(cell, f"{metric}_mean"), getattr(cell, f"{metric}_std"), cell.n_seeds, expected, cell.complete
            )
            for metric in ("WER", "CER")
        ]
        lines.append(f"| {encoder} | {values[0]} | {values[1]} |")
    lines += ["", RESULTS_END]
    return "\n".join(lines)


def results_section(encoders):
    """A recipe README's results section, every encoder "not run" (for a new recipe)."""
    return (
        "## Results (Common Voice 7.0 test)\n\n"
        "`python local/report.py --results-root R --out report --update-recipe-readmes` (repository root)\n"
        "fills this table from the runs under a results root.\n\n" + results_table(encoders) + "\n"
    )


def replace_results_table(readme_text, table, path):
    """`readme_text` with what is between the markers (the markers included) replaced by `table`."""
    begin, end = readme_text.count(RESULTS_BEGIN), readme_text.count(RESULTS_END)
    if begin != 1 or end != 1:
        raise ValueError(
            f"{path}: expected one results table between `{RESULTS_BEGIN}` and `{RESULTS_END}`, "
            f"found {begin} begin and {end} end markers"
        )
    start = readme_text.index(RESULTS_BEGIN)
    stop = readme_text.index(RESULTS_END) + len(RESULTS_END)
    if stop < start:
        raise ValueError(f"{path}: the results table's end marker comes before its begin marker")
    return readme_text[:start] + table + readme_text[stop:]


def update_recipe_readmes(runs, encoders, languages=None, seeds=None, recipes_dir=RECIPES_DIR):
    """Rewrite the results table of each language's README from `runs` (aggregate.collect's table).

    encoders: the table's rows, in order; languages: the READMEs to rewrite
    (default: the languages with runs); seeds: the expected seeds (default:
    those found). Each README is written atomically. Returns (updated paths,
    [(path, why it was left alone)]).
    """
    languages = list(languages or sorted(runs["language"].unique()))
    seeds = list(seeds or sorted(runs["seed"].unique()))
    summary = summarize(runs, seeds) if not runs.empty else None
    updated, skipped = [], []
    for language in languages:
        path = Path(recipes_dir) / language / "README.md"
        if not path.is_file():
            skipped.append((path, "no such file"))
            continue
        cells = None if summary is None else summary[summary["language"] == language]
        table = results_table(encoders, cells, seeds)
        try:
            text = replace_results_table(path.read_text(encoding="utf-8"), table, path)
        except ValueError as err:
            skipped.append((path, str(err)))
            continue
        write_text(path, text)
        updated.append(path)
    return updated, skipped
