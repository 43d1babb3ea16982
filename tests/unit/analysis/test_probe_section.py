"""The report's probe section on hand-made probe and fine-tuning results.json files.

Every statistic is recomputed here from the arrays the test wrote: means over
seeds with numpy, Spearman's rho with scipy, top-1 and top-3 agreement with
Python sets, the bootstrap CIs by redoing the documented resamples by hand,
the cost ratios and expected layers by sums.
"""

import json
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from crossling_asr.analysis.document import Report
from crossling_asr.analysis.probe_section import add_probe_section
from crossling_asr.analysis.probing import comparable_encoder
from crossling_asr.registry import load_registry

REGISTRY = load_registry()
LANGUAGES = ("de", "en", "es", "fr")
ISO = {"de": "deu", "en": "eng", "es": "spa", "fr": "fra"}
# encoder -> number of transformer layers of its hand-made probes
DEPTHS = {
    "wav2vec2-large-lv60": 6,
    "voxpopuli-fr": 4,
    "voxpopuli-es": 4,
    "voxpopuli-100k": 4,
    "xlsr-53": 6,
    "xls-r-300m": 6,
    "no-pretraining": 6,
}
MONOLINGUAL = {"wav2vec2-large-lv60": "en", "voxpopuli-fr": "fr", "voxpopuli-es": "es"}
GENETIC = {
    ("eng", "deu"): 0.5,
    ("eng", "spa"): 0.8,
    ("eng", "fra"): 0.8,
    ("deu", "spa"): 0.8,
    ("deu", "fra"): 0.8,
    ("spa", "fra"): 0.3,
}
RESAMPLES = 300


def results_json(
    language,
    encoder,
    seed,
    protocol,
    error,
    device="cuda:0",
    world_size=1,
    wall_seconds=100.0,
    forward=None,
    weights=None,
    num_hidden_states=None,
):
    """A results.json object of the schema crossling_asr/results.py documents (version 1)."""
    run_name = encoder if protocol == "study" else f"{encoder}.{protocol}"
    forward = forward or {"train": 10.0, "dev": 2.0, "test": 1.0}
    return {
        "schema_version": 1,
        "status": "finished",
        "run": {
            "language": language,
            "encoder": encoder,
            "encoder_source": REGISTRY[encoder]["source"],
            "encoder_family": "Wav2Vec2Model",
            "random_init": REGISTRY[encoder]["random_init"],
            "seed": seed,
            "output_folder": f"/r/{language}/{run_name}/seed_{seed}",
            "device": device,
            "protocol": protocol,
        },
        "metrics": {
            "primary": "WER",
            "wer_meaningful": True,
            "test": {"WER": error, "CER": error / 3, "loss": 1.0, "n_utterances": 10},
            "dev_best": {"WER": error, "CER": error / 3, "epoch": 2},
        },
        "data": {
            "splits": {
                s: {"utterances": 10, "hours": 0.5, "speakers": 2, "skipped": {}} for s in ("train", "dev", "test")
            }
        },
        "training": {"epochs": 2, "optimizer_steps": 10, "world_size": world_size, "wall_seconds": wall_seconds},
        "layers": {
            "aggregation": "last" if weights is None else "weighted",
            "encoder_frozen": protocol == "probe",
            "num_hidden_states": num_hidden_states or (len(weights) if weights else DEPTHS[encoder] + 1),
            "weights": weights,
        },
        "cost": {"encoder_forward_seconds": forward, "feature_cache": None},
        "hparams": {
            "seed": seed,
            "protocol": protocol,
            "run_name": run_name,
            "iso639_3": ISO[language],
            "language_name": language,
            "family": "Indo-European",
            "layer_aggregation": "last" if weights is None else "weighted",
        },
    }


def write(root, results):
    run = results["run"]
    folder = root / run["language"] / results["hparams"]["run_name"] / f"seed_{run['seed']}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results))


def softmax(logits):
    e = np.exp(logits - logits.max())
    return e / e.sum()


def typology_file(path):
    codes = sorted(ISO.values())
    matrix = {a: {b: 0.0 if a == b else GENETIC.get((a, b), GENETIC.get((b, a))) for b in codes} for a in codes}
    path.write_text(json.dumps({"languages": ISO, "distances": {"genetic": matrix}}))
    return path


def hand_bootstrap(n_units, statistic, n_resamples=RESAMPLES, seed=0):
    """The documented percentile bootstrap: rng.integers draws, undefined resamples dropped
    (NaNs when more than half are)."""
    picks = np.random.default_rng(seed).integers(0, n_units, (n_resamples, n_units))
    values = [v for v in (statistic(list(pick)) for pick in picks) if v is not None]
    if len(values) < n_resamples / 2:
        return np.nan, np.nan
    return np.quantile(values, 0.025), np.quantile(values, 0.975)


def table(out, name):
    return pd.read_csv(out / "tables" / f"{name}.csv")


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """A results root of probes and fine-tunings in 4 languages x 5 encoders, with what the test wrote."""
    root = tmp_path_factory.mktemp("probe_results")
    rng = np.random.default_rng(3)
    written = {"probe": {}, "study": {}, "weights": {}, "cost": {}, "root": root}
    for language in LANGUAGES:
        for encoder, depth in DEPTHS.items():
            for seed in (1, 2):
                error = float(rng.uniform(10, 60))
                weights = softmax(rng.normal(0, 1, depth + 1)).tolist()
                wall, forward = float(rng.uniform(50, 100)), float(rng.uniform(5, 20))
                write(
                    root,
                    results_json(
                        language,
                        encoder,
                        seed,
                        "probe",
                        error,
                        wall_seconds=wall,
                        forward={"train": forward, "dev": 1.0, "test": 0.5},
                        weights=weights,
                    ),
                )
                written["probe"][(language, encoder, seed)] = error
                written["weights"][(language, encoder, seed)] = weights
                written["cost"][("probe", language, encoder, seed)] = ("cuda", wall, forward + 1.0)
            # Fine-tuning: one seed, on 2 GPUs, except de x xlsr-53 on a CPU (not comparable in cost).
            error, wall, forward = float(rng.uniform(10, 60)), float(rng.uniform(500, 1000)), float(rng.uniform(40, 80))
            device = "cpu" if (language, encoder) == ("de", "xlsr-53") else "cuda:1"
            write(
                root,
                results_json(
                    language,
                    encoder,
                    1,
                    "study",
                    error,
                    device=device,
                    world_size=2,
                    wall_seconds=wall,
                    forward={"train": forward, "dev": 4.0, "test": 2.0},
                ),
            )
            written["study"][(language, encoder, 1)] = error
            written["cost"][("study", language, encoder, 1)] = (device.split(":")[0], 2 * wall, 2 * (forward + 4.0))
    # A fine-tuning run with weighted layers replaces es x xlsr-53's seed 1; a probe with malformed weights.
    ft_weights = softmax(np.arange(7.0)).tolist()
    es_ft = results_json(
        "es",
        "xlsr-53",
        1,
        "study",
        written["study"][("es", "xlsr-53", 1)],
        device="cuda:1",
        world_size=2,
        wall_seconds=written["cost"][("study", "es", "xlsr-53", 1)][1] / 2,
        forward={"train": written["cost"][("study", "es", "xlsr-53", 1)][2] / 2 - 4.0, "dev": 4.0},
        weights=ft_weights,
    )
    write(root, es_ft)
    write(root, results_json("fr", "xlsr-53", 3, "probe", 35.0, weights=[0.5, 0.5], num_hidden_states=7))
    written["probe"][("fr", "xlsr-53", 3)] = 35.0
    written["cost"][("probe", "fr", "xlsr-53", 3)] = ("cuda", 100.0, 12.0)  # results_json's defaults
    written["ft_weights"] = ft_weights
    out = tmp_path_factory.mktemp("probe_report")
    report = Report(out)
    add_probe_section(report, root, typology_file=typology_file(out / "typology.json"), n_resamples=RESAMPLES)
    return written, out, "\n".join(report.parts)


def cell_means(errors):
    cells = {}
    for (language, encoder, _), error in errors.items():
        cells.setdefault((language, encoder), []).append(error)
    return {key: float(np.mean(values)) for key, values in cells.items()}


def test_probe_ranking_agrees_with_fine_tuning_ranking(grid):
    written, out, _ = grid
    agreement = table(out, "probe_ranking_agreement").set_index("scope")
    probe, study = cell_means(written["probe"]), cell_means(written["study"])
    encoders = sorted(DEPTHS)
    rhos, top1s = [], []
    for language in LANGUAGES:
        x = np.array([probe[(language, e)] for e in encoders])
        y = np.array([study[(language, e)] for e in encoders])
        row = agreement.loc[language]
        rho = scipy_stats.spearmanr(x, y).statistic
        assert row["rho"] == pytest.approx(rho) and row["n_encoders"] == len(encoders)
        best_probe, best_study = encoders[int(np.argmin(x))], encoders[int(np.argmin(y))]
        assert (row["best_probe"], row["best_fine_tuning"]) == (best_probe, best_study)
        assert row["top1"] == (1.0 if best_probe == best_study else 0.0)
        top3 = set(sorted(encoders, key=lambda e: probe[(language, e)])[:3]) & set(
            sorted(encoders, key=lambda e: study[(language, e)])[:3]
        )
        assert row["top3"] == pytest.approx(len(top3) / 3)
        rhos.append(rho)
        top1s.append(row["top1"])

    def top_k(pick, k, x, y):
        distinct = sorted(set(pick))  # encoder indices, i.e. name order: ties go to the first name
        if len(distinct) <= k:
            return None
        return len(set(sorted(distinct, key=lambda i: x[i])[:k]) & set(sorted(distinct, key=lambda i: y[i])[:k])) / k

    x = [probe[("fr", e)] for e in encoders]
    y = [study[("fr", e)] for e in encoders]
    for k in (1, 3):
        assert (agreement.loc["fr", f"top{k}_ci_low"], agreement.loc["fr", f"top{k}_ci_high"]) == pytest.approx(
            hand_bootstrap(len(encoders), lambda pick, k=k: top_k(pick, k, x, y))
        )
    pooled = agreement.loc["mean over languages"]
    assert pooled["rho"] == pytest.approx(np.mean(rhos)) and pooled["top1"] == pytest.approx(np.mean(top1s))
    assert (pooled["rho_ci_low"], pooled["rho_ci_high"]) == pytest.approx(
        hand_bootstrap(4, lambda pick: np.mean([rhos[i] for i in pick]))
    )
    cells = table(out, "probe_ranking_cells").set_index(["language", "encoder"])
    assert cells.loc[("fr", "xlsr-53"), "probe_seeds"] == 3  # the malformed weights do not matter here
    assert cells.loc[("fr", "xlsr-53"), "probe_error"] == pytest.approx(probe[("fr", "xlsr-53")])
    assert comparable_encoder("xlsr-53.probe~wav2vec2-abc123") == "xlsr-53~wav2vec2-abc123"


def test_probe_cost_ratio_per_language_on_the_same_device_kind(grid):
    written, out, _ = grid
    cost = table(out, "probe_cost").set_index(["scope", "device"])
    assert set(cost.index) == {(language, "cuda") for language in LANGUAGES} | {("all languages", "cuda")}
    totals = {}
    for language in LANGUAGES:
        encoders = [e for e in DEPTHS if written["cost"][("study", language, e, 1)][0] == "cuda"]
        sums = {}
        for protocol in ("probe", "study"):
            for measure, index in (("device_hours", 1), ("encoder_forward_hours", 2)):
                sums[(protocol, measure)] = sum(
                    np.mean(
                        [
                            cost[index]
                            for (p, lang, enc, _), cost in written["cost"].items()
                            if (p, lang, enc) == (protocol, language, e)
                        ]
                    )
                    / 3600
                    for e in encoders
                )
                totals[(protocol, measure)] = totals.get((protocol, measure), 0.0) + sums[(protocol, measure)]
        row = cost.loc[(language, "cuda")]
        assert row["n_encoders"] == len(encoders) == len(DEPTHS) - (language == "de")
        for measure in ("device_hours", "encoder_forward_hours"):
            assert row[f"probe_{measure}"] == pytest.approx(sums[("probe", measure)])
            assert row[f"fine_tuning_{measure}"] == pytest.approx(sums[("study", measure)])
            assert row[f"{measure}_ratio"] == pytest.approx(sums[("probe", measure)] / sums[("study", measure)])
    pooled = cost.loc[("all languages", "cuda")]
    assert pooled["device_hours_ratio"] == pytest.approx(
        totals[("probe", "device_hours")] / totals[("study", "device_hours")]
    )


def test_expected_layers_profiles_and_the_figure(grid):
    written, out, text = grid
    cells = table(out, "probe_expected_layer").set_index(["series", "encoder", "language"])
    for language in LANGUAGES:
        for encoder, depth in DEPTHS.items():
            expected = np.mean(
                [np.dot(np.arange(depth + 1), written["weights"][(language, encoder, s)]) for s in (1, 2)]
            )
            row = cells.loc[("probe", encoder, language)]
            assert (row["n_seeds"], row["num_layers"]) == (2, depth)  # fr x xlsr-53 seed 3 is left out
            assert row["expected_layer"] == pytest.approx(expected)
            assert row["expected_layer_normalised"] == pytest.approx(expected / depth)
    fine_tuned = cells.loc[("fine-tuning (weighted layers)", "xlsr-53", "es")]
    assert fine_tuned["expected_layer"] == pytest.approx(np.dot(np.arange(7), written["ft_weights"]))
    assert len(cells) == len(LANGUAGES) * len(DEPTHS) + 1
    matrix = table(out, "probe_expected_layer_matrix").set_index("encoder")
    assert list(matrix.index) == [name for name in REGISTRY if name in DEPTHS]  # registry order
    assert matrix.loc["voxpopuli-es", "fr"] == pytest.approx(
        cells.loc[("probe", "voxpopuli-es", "fr"), "expected_layer_normalised"]
    )

    profiles = table(out, "probe_layer_profiles").set_index(["series", "encoder", "layer"])
    by_language = [
        np.mean([written["weights"][(lang, "voxpopuli-fr", s)] for s in (1, 2)], axis=0) for lang in LANGUAGES
    ]
    assert profiles.loc[("probe", "voxpopuli-fr"), "weight_mean"].to_numpy() == pytest.approx(
        np.mean(by_language, axis=0)
    )
    assert profiles.loc[("probe", "voxpopuli-fr"), "weight_std"].to_numpy() == pytest.approx(
        np.std(by_language, axis=0, ddof=1)
    )
    assert np.isnan(profiles.loc[("fine-tuning (weighted layers)", "xlsr-53"), "weight_std"]).all()

    left_out = table(out, "probe_weights_left_out")
    assert list(left_out["seed"]) == [3] and "fr/xlsr-53.probe/seed_3" in left_out["path"].iloc[0]
    assert "layers.weights has 2 entries, layers.num_hidden_states is 7" in left_out["weights_problem"].iloc[0]
    assert "**Warning:** 1 runs left out of the layer-weight analysis" in text
    images = re.findall(r"!\[[^]]*\]\(([^)]+)\)", text)
    assert images == ["figures/probe_layer_weights.png"] and (out / images[0]).is_file()
    assert (out / images[0]).with_suffix(".pdf").is_file()


def test_monolingual_encoders_own_language_and_similarity(grid):
    written, out, _ = grid

    def normalised(encoder, language):
        return (
            np.mean(
                [np.dot(np.arange(DEPTHS[encoder] + 1), written["weights"][(language, encoder, s)]) for s in (1, 2)]
            )
            / DEPTHS[encoder]
        )

    own = table(out, "probe_own_language_layer").set_index("encoder")
    differences = []
    for encoder, language in sorted(MONOLINGUAL.items()):
        others = [normalised(encoder, other) for other in LANGUAGES if other != language]
        row = own.loc[encoder]
        assert row["own_language"] == language and row["n_other"] == 3
        assert row["own"] == pytest.approx(normalised(encoder, language))
        assert row["difference"] == pytest.approx(normalised(encoder, language) - np.mean(others))
        differences.append(normalised(encoder, language) - np.mean(others))
    pooled = own.loc["mean over encoders"]
    assert pooled["difference"] == pytest.approx(np.mean(differences))
    assert (pooled["ci_low"], pooled["ci_high"]) == pytest.approx(
        hand_bootstrap(3, lambda pick: np.mean([differences[i] for i in pick]))
    )

    pairs = [(encoder, language) for encoder in sorted(MONOLINGUAL) for language in LANGUAGES]
    similarity = [
        1
        - (
            0.0
            if ISO[MONOLINGUAL[e]] == ISO[lang]
            else GENETIC.get((ISO[MONOLINGUAL[e]], ISO[lang]), GENETIC.get((ISO[lang], ISO[MONOLINGUAL[e]])))
        )
        for e, lang in pairs
    ]
    layer = [normalised(e, lang) for e, lang in pairs]
    correlation = table(out, "probe_layer_similarity").set_index("similarity").loc["genetic"]
    assert correlation["n_pairs"] == 12 and correlation["n_languages"] == 4
    assert correlation["rho"] == pytest.approx(scipy_stats.spearmanr(similarity, layer).statistic)

    def cluster_rho(pick):  # whole target languages, in order of first appearance (sorted here)
        rows = [i for language in pick for i, (_, lang) in enumerate(pairs) if lang == LANGUAGES[language]]
        x, y = [similarity[i] for i in rows], [layer[i] for i in rows]
        return scipy_stats.spearmanr(x, y).statistic if np.ptp(x) > 0 and np.ptp(y) > 0 else None

    assert (correlation["ci_low"], correlation["ci_high"]) == pytest.approx(hand_bootstrap(4, cluster_rho))


def test_what_is_missing_is_said(tmp_path):
    only_study = tmp_path / "study"
    write(only_study, results_json("es", "xlsr-53", 1, "study", 20.0))
    report = Report(tmp_path / "a")
    add_probe_section(report, only_study, typology_file=tmp_path / "absent.json", n_resamples=50)
    assert "Not available: no finished probe runs" in "\n".join(report.parts)

    only_probes = tmp_path / "probes"
    for encoder in ("voxpopuli-fr", "xlsr-53"):
        write(only_probes, results_json("fr", encoder, 1, "probe", 20.0, weights=[0.2, 0.2, 0.2, 0.2, 0.2]))
    report = Report(tmp_path / "b")
    add_probe_section(report, only_probes, typology_file=tmp_path / "absent.json", n_resamples=50)
    text = "\n".join(report.parts)
    assert text.count("Not available: no finished fine-tuning runs (protocol study)") == 2
    assert "No fine-tuning run has weighted layers" in text
    assert "Similarity: not available:" in text and "absent.json not found" in text
    cells = pd.read_csv(tmp_path / "b" / "tables" / "probe_expected_layer.csv")
    assert cells["expected_layer"].to_numpy() == pytest.approx([2.0, 2.0])  # uniform over layers 0..4


def test_the_report_of_the_study_protocol_carries_the_probe_and_reproduction_sections(grid, tmp_path):
    from crossling_asr.analysis.report import build_report

    written, _, _ = grid
    text = build_report(
        written["root"],
        tmp_path / "report",
        typology_file=typology_file(tmp_path / "typology.json"),
        n_resamples=RESAMPLES,
    ).read_text()
    headings = re.findall(r"^## (\d)\.", text, re.M)
    assert headings == ["1", "2", "3", "4", "5", "6"]
    assert "figures/probe_layer_weights.png" in text
    assert "No released checkpoints scored under this results root" in text
    ranking = table(tmp_path / "report", "probe_ranking_agreement")
    assert set(LANGUAGES) <= set(ranking["scope"])
