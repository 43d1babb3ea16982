"""The answer of `local/choose_encoder.py`, written three ways: choice.md for people, choice.png
(each encoder's error with its interval), and choice.json for programs.

choice.json (version 1): {choice_version, language, metric, level, recommendation (the
sentence), recommended (encoder or null), complete (false while runs are unfinished: then the
recommendation is provisional and recommended is null), best_group, all_degenerate, cautions, stages: [{name
(probe | short fine-tune | fine-tune), protocol, ranking: [{encoder, n_seeds, seeds, error,
error_ci_low, error_ci_high, diff_to_best, diff_ci_low, diff_ci_high, rank, degenerate, flags,
in_best_group}], recommendation, common_utterances, left_out_utterances, unfinished: [{run,
state, detail}]}], validation: {validated, statement, per_language, pooled}, cost: {spent_hours
{device: h}, fine_tuning_estimate_gpu_hours, assumptions, ratio (GPU runs only)}}.

What a probe ranking is worth is measured on the other languages of the same results root where
probes and fine-tunes (protocol study) or evaluated released checkpoints of the same encoders
meet: crossling_asr.analysis.probing.ranking_agreement's Spearman rho and top-1/top-3 agreement
with their bootstrap intervals. Without such languages the ranking is said to be not validated.
"""

import math

import numpy as np
import pandas as pd

from crossling_asr.analysis.aggregate import collect, markdown_table, summarize
from crossling_asr.analysis.figures import plt, save
from crossling_asr.analysis.probing import PROBE_PROTOCOL, TOP_K, comparable_encoder, ranking_agreement
from crossling_asr.atomic import write_json, write_text
from crossling_asr.run_layout import RELEASED_PROTOCOL, STUDY_PROTOCOL

CHOICE_VERSION = 1
RANKING_COLUMNS = (
    "rank",
    "encoder",
    "n_seeds",
    "seeds",
    "error",
    "error_ci_low",
    "error_ci_high",
    "diff_to_best",
    "diff_ci_low",
    "diff_ci_high",
    "in_best_group",
    "degenerate",
    "flags",
)


def probe_validation(results_root, language, n_resamples=2000):
    """{validated, statement, per_language, pooled}: the probe-vs-fine-tune agreement measured on the
    languages of `results_root` other than `language` (module docstring)."""
    probes = collect(results_root, PROBE_PROTOCOL, include_replaced_sources=True).runs
    probes = probes[probes["language"] != language]
    references = []
    for protocol in (STUDY_PROTOCOL, RELEASED_PROTOCOL):
        runs = collect(results_root, protocol, include_replaced_sources=True).runs
        references.append(runs[runs["language"] != language].assign(reference=protocol))
    reference = pd.concat(references, ignore_index=True)
    empty = {"validated": False, "per_language": [], "pooled": None}
    if probes.empty or reference.empty:
        return {
            **empty,
            "statement": "Not yet validated: the results root holds no other language with both probes and "
            "fine-tunes (or evaluated released checkpoints) of the same encoders, so how well the probe ranking "
            "predicts the fine-tuning ranking is unknown here.",
        }
    probe_summary = summarize(probes.assign(encoder=probes["encoder"].map(comparable_encoder)))
    reference = reference.assign(encoder=reference["encoder"].map(comparable_encoder))
    # a language x encoder with both a fine-tune and a released checkpoint: the fine-tune's
    reference = reference.sort_values("reference", key=lambda s: s != STUDY_PROTOCOL)
    first = reference.drop_duplicates(["language", "encoder"])[["language", "encoder", "reference"]]
    reference = reference.merge(first, on=["language", "encoder", "reference"])
    _, agreement = ranking_agreement(probe_summary, summarize(reference.drop(columns="reference")), n_resamples)
    per_language = agreement[agreement["scope"] != "mean over languages"]
    if per_language.empty:
        return {
            **empty,
            "statement": "Not yet validated: no other language of the results root has probes and fine-tunes of "
            "the same encoders.",
        }
    pooled = agreement.iloc[-1].to_dict()
    rho = f"{pooled['rho']:.2f} [{pooled['rho_ci_low']:.2f}, {pooled['rho_ci_high']:.2f}]"
    top1 = f"{pooled['top1']:.2f} [{pooled['top1_ci_low']:.2f}, {pooled['top1_ci_high']:.2f}]"
    topk = f"{pooled[f'top{TOP_K}']:.2f} [{pooled[f'top{TOP_K}_ci_low']:.2f}, {pooled[f'top{TOP_K}_ci_high']:.2f}]"
    return {
        "validated": True,
        "statement": (
            f"Measured on {len(per_language)} other language(s) of this results root "
            f"({', '.join(per_language['scope'])}): Spearman rho between probe and fine-tuning error {rho}, "
            f"top-1 agreement {top1}, top-{TOP_K} agreement {topk} (means over languages, 95% intervals)."
        ),
        "per_language": records(per_language),
        "pooled": records(pd.DataFrame([pooled]))[0],
    }


def records(frame):
    """A DataFrame as JSON-ready records (NaN as null, numpy scalars as Python's)."""
    out = []
    for row in frame.to_dict(orient="records"):
        out.append({k: plain(v) for k, v in row.items()})
    return out


def plain(value):
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    return value


def stage_record(name, protocol, choice, unfinished):
    """One stage of choice.json."""
    ranking = choice.ranking
    return {
        "name": name,
        "protocol": protocol,
        "metric": choice.metric,
        "ranking": records(ranking[[c for c in RANKING_COLUMNS if c in ranking]]) if not ranking.empty else [],
        "recommendation": choice.recommendation,
        "recommended": choice.recommended,
        "best_group": list(choice.best_group),
        "all_degenerate": choice.all_degenerate,
        "cautions": list(choice.cautions),
        "common_utterances": choice.common_utterances,
        "left_out_utterances": dict(choice.left_out_utterances),
        "unfinished": [{"run": s.run.name, "state": s.state, "detail": s.detail} for s in unfinished],
    }


def choice_figure(choice, stem, title):
    """Each encoder's error with its interval (degenerate runs grey and marked); returns the PNG."""
    ranking = choice.ranking
    fig, ax = plt.subplots(figsize=(6.5, 0.9 + 0.38 * max(1, len(ranking))))
    y = np.arange(len(ranking))[::-1]
    for yi, row in zip(y, ranking.itertuples(index=False)):
        colour = "0.6" if row.degenerate else ("tab:green" if row.in_best_group else "tab:blue")
        low, high = row.error_ci_low, row.error_ci_high
        ax.errorbar(
            row.error,
            yi,
            xerr=[[row.error - low], [high - row.error]] if np.isfinite(low) else None,
            fmt="o",
            color=colour,
            capsize=3,
        )
    labels = [f"{r.encoder}{' (degenerate)' if r.degenerate else ''}" for r in ranking.itertuples(index=False)]
    ax.set_yticks(y, labels, fontsize=8)
    ax.axvline(100, color="0.5", linestyle=":", linewidth=1)
    ax.text(
        100, 0.5, "empty output ", transform=ax.get_xaxis_transform(), rotation=90, ha="right", va="center", fontsize=7
    )
    ax.set_xlabel(f"test {choice.metric} (%), {100 * choice.level:.0f}% paired-bootstrap interval")
    ax.set_title(title + "\ngreen: cannot be told apart from the best; grey: degenerate, never recommended", fontsize=9)
    return save(fig, stem)


def ranking_markdown(choice):
    """The ranking as a Markdown table (errors and intervals in points)."""
    ranking = choice.ranking
    table = pd.DataFrame(
        {
            "rank": ranking["rank"],
            "encoder": ranking["encoder"],
            "seeds": ranking["n_seeds"],
            choice.metric: ranking["error"].map(lambda v: f"{v:.2f}"),
            "95% interval": [
                f"[{lo:.2f}, {hi:.2f}]" for lo, hi in zip(ranking["error_ci_low"], ranking["error_ci_high"])
            ],
            "difference to best [interval]": [
                "–" if not np.isfinite(d) else f"{d:+.2f} [{lo:+.2f}, {hi:+.2f}]"
                for d, lo, hi in zip(ranking["diff_to_best"], ranking["diff_ci_low"], ranking["diff_ci_high"])
            ],
            "best group": ranking["in_best_group"].map({True: "yes", False: ""}),
            "flags": ranking["flags"].replace("", "–"),
        }
    )
    return markdown_table(table)


def stage_markdown(title, choice, unfinished):
    lines = [f"## {title}", "", f"**{choice.recommendation}**", ""]
    lines += [f"**Caution:** {caution}" for caution in choice.cautions]
    if not choice.ranking.empty:
        lines += [
            "",
            ranking_markdown(choice),
            "",
            f"Scored on the {choice.common_utterances} test utterances every run decoded; intervals: "
            f"{100 * choice.level:.0f}% paired bootstrap over test utterances (and over seeds where there "
            "are several), each encoder against the best. Ties share a rank.",
        ]
    if choice.left_out_utterances:
        lines.append(
            "Utterances left out (not decoded by every run): "
            + ", ".join(f"{run} {n}" for run, n in choice.left_out_utterances.items())
        )
    if unfinished:
        lines += ["", f"Not finished, left out of this ranking ({len(unfinished)}):"]
        lines += [f"- {s.run.name}: {s.state} {s.detail}".rstrip() for s in unfinished]
    return "\n".join(lines)


def cost_markdown(cost):
    spent = ", ".join(f"{hours:.3f} {device}-hours" for device, hours in sorted(cost["spent_hours"].items()))
    lines = [
        "## Cost",
        "",
        f"Spent (training time of the runs above, from their results.json): {spent or 'nothing yet'}.",
    ]
    if cost.get("fine_tuning_estimate_gpu_hours") is not None:
        lines.append(
            f"Fine-tuning every candidate with the study's settings instead: an estimated "
            f"{cost['fine_tuning_estimate_gpu_hours']:.2f} GPU-hours ({cost['assumptions']})."
        )
    if cost.get("ratio") is not None:
        lines.append(f"Ratio (GPU-hours spent / estimate): {cost['ratio']:.3f}.")
    elif cost.get("fine_tuning_estimate_gpu_hours") is not None:
        lines.append("No ratio: the runs did not run on GPUs, or the estimate prices other encoders than the ones run.")
    return "\n".join(lines)


def write_answer(folder, answer, stages_markdown, figures):
    """choice.json, choice.md (with `figures`: [(png, caption)]) under `folder`; returns the Markdown."""
    parts = [f"# Which encoder for {answer['language']}?", "", f"**{answer['recommendation']}**", ""]
    for png, caption in figures:
        parts += [f"![{caption}]({png.relative_to(folder).as_posix()})", ""]
    parts += stages_markdown
    parts += ["", "## What the probe ranking is worth", "", answer["validation"]["statement"], ""]
    parts += [cost_markdown(answer["cost"])]
    markdown = "\n".join(parts) + "\n"
    write_text(folder / "choice.md", markdown)
    write_json(folder / "choice.json", answer)
    return markdown
