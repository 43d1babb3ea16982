"""local/new_language.py adds a language outside the 18 (Catalan) that trains as the recipes do."""

import json
import os
import subprocess
import sys

from crossling_asr.data.synthetic import synthesize_corpus
from crossling_asr.data.text import LanguageSpec, TextNormalizer
from crossling_asr.hparams import REPO_ROOT as ROOT
from crossling_asr.training.quick_run import CPU_TINY_OVERRIDES
from tests.helpers.languages import new_language

CATALAN_SENTENCES = """\
El meu germà viu a Barcelona des de fa anys.
L'home va comprar una col·lecció de llibres antics.
«Què vols fer avui?», va preguntar la mare.
Aquesta és la millor paella que he menjat mai!
La Mercè i en Jordi s'han casat a l'església de Sant Pere.
Els nens juguen al pati de l'escola després de dinar.
A la tardor, les fulles dels arbres es tornen grogues.
Va arribar a les 10 del matí, com sempre.
La intel·ligència artificial canvia el món.
He llegit el diari d'avui: parla de la vaga.
Ens veiem demà a la plaça, oi?
El riu Ebre travessa Catalunya de nord a sud.
Als pingüins els agrada el fred; és curiós.
La història de l'únic veïnat és molt coneguda.
"""


CATALAN_WORDS = [
    "casa",
    "gos",
    "gat",
    "aigua",
    "pa",
    "llet",
    "ciutat",
    "carrer",
    "escola",
    "llibre",
    "gran",
    "petit",
    "vermell",
    "verd",
    "bonic",
    "noia",
    "noi",
    "home",
    "dona",
    "nen",
    "caminar",
    "llegir",
    "escriure",
    "parlar",
    "veure",
    "avui",
    "demà",
    "molt",
    "bé",
    "gràcies",
    "amic",
    "sol",
    "cel",
    "riu",
    "bosc",
    "temps",
    "feina",
    "l'home",
    "col·lecció",
    "plaça",
]


def test_new_language_catalan_trains(tiny_encoders, tmp_path):
    """local/new_language.py ca: a recipe that prepares, trains and scores."""
    import ruamel.yaml

    sentences = tmp_path / "ca_sentences.txt"
    sentences.write_text(CATALAN_SENTENCES, encoding="utf-8")
    words = tmp_path / "ca_words.txt"
    words.write_text("\n".join(CATALAN_WORDS) + "\n", encoding="utf-8")
    recipes = tmp_path / "recipes"
    new_language("ca", "--sentences", sentences, "--words", words, "--word-internal", "'·", "--recipes-dir", recipes)
    recipe = recipes / "ca"
    assert (recipe / "train.py").read_bytes() == (ROOT / "recipes" / "es" / "train.py").read_bytes()
    assert "## Text normalisation" in (recipe / "README.md").read_text(encoding="utf-8")
    yaml_file = recipe / "hparams" / "ca.yaml"
    data = ruamel.yaml.YAML(typ="safe", pure=True).load(yaml_file.read_text(encoding="utf-8"))
    assert data["language"] == "ca"
    assert data["synthetic"]["voice"] == "ca"
    assert data["synthetic"]["words"] == CATALAN_WORDS
    assert data["primary_metric"] == "WER"
    # the facts: ISO 639 name and code, URIEL's family
    assert (data["language_name"], data["iso639_3"], data["family"]) == ("Catalan", "cat", "Indo-European")
    # the alphabet derived from the sentences: Catalan's accented letters and ç
    normalizer = TextNormalizer(LanguageSpec(code="ca", **data["text"]))
    assert (
        normalizer.normalize("L'alumna va fer una col·lecció de pingüins a Girona.")
        == "l'alumna va fer una col·lecció de pingüins a girona"
    )
    for letter in "àçèéíïòóúü":
        assert normalizer.reject_reason(normalizer(letter)) is None, letter

    data_folder = tmp_path / "cv" / "ca"
    synthesize_corpus(
        data_folder, "ca", data["synthetic"]["voice"], data["synthetic"]["words"], n_train=12, n_dev=4, n_test=4
    )
    cmd = [
        sys.executable,
        str(recipe / "train.py"),
        str(yaml_file),
        f"--data_folder={data_folder}",
        f"--encoder_source={tiny_encoders['wav2vec2']}",
        f"--results_root={tmp_path / 'results'}",
        "--number_of_epochs=1",
        *CPU_TINY_OVERRIDES,
    ]
    # The recipe directory lives outside the repository here: the package comes from PYTHONPATH.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, cwd=recipe, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (results_file,) = (tmp_path / "results").glob("ca/*/seed_*/results.json")
    results = json.loads(results_file.read_text())
    assert results["run"]["language"] == "ca"
    assert results["hparams"]["family"] == "Indo-European"
    assert results["metrics"]["primary"] == "WER"
    assert results["data"]["splits"]["train"]["utterances"] == 12
