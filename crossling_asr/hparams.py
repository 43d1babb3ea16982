"""Loading a recipe's hparams: a language file on top of the shared experiment file.

A language's hparams (recipes/<lang>/hparams/<lang>.yaml) holds only data:
language code, text rules, metric, synthetic voice. Its `base_hparams` key
names the shared experiment file (hparams/ctc_study.yaml by default), which
declares every key. The language's keys and then the command-line overrides
are applied to the shared file, and HyperPyYAML rejects any key the shared
file does not declare, so a typo fails at start-up.

Three defaults are settled here rather than in the shared file: `run_name`
left null is crossling_asr.run_layout's name for the encoder, protocol and
encoder source, `results_root`
left null is the recipe's own folder's results/ (the same folder whether
train.py is started from the recipe folder or the repository root), and
`cpu_tiny: True` layers the shared file's neighbour cpu_tiny.yaml (settings
for a tiny encoder on CPU) under the command-line overrides; with the probe
protocol it also picks the linear probe head (CPU_TINY_PROBE_HEAD) unless
`probe_head` is given: MP3S's BiLSTM head (2 x 1024 units per direction)
takes over a minute a step on 2 cores, whatever the encoder's size.
"""

import difflib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import ruamel.yaml
from hyperpyyaml import load_hyperpyyaml, resolve_references

from crossling_asr.run_layout import run_name


class HparamsError(ValueError):
    """An hparams file or override that cannot be used."""


def _plain_yaml(text, origin):
    try:
        data = ruamel.yaml.YAML(typ="safe", pure=True).load(text) or {}
    except ruamel.yaml.YAMLError as err:
        raise HparamsError(f"{origin}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise HparamsError(f"{origin}: expected a mapping of keys to values")
    return data


def plain_yaml_file(path):
    """A data-only YAML file (a language's hparams) as a dict; HparamsError if it is not one."""
    return _plain_yaml(Path(path).read_text(encoding="utf-8"), path)


def flatten_keys(mapping, prefix=""):
    """{"parent.child": value} of a nested mapping's leaves (a nested key's name in key_docs)."""
    flat = {}
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            flat.update(flatten_keys(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def command_line_value(cli_overrides, key):
    """The value the command line's overrides (SpeechBrain's YAML string) give `key`, or None:
    read before any hparams file is loaded, for checks that should come first."""
    return _plain_yaml(cli_overrides, "command-line overrides").get(key) if cli_overrides else None


def _merge(base, update):
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _declared_keys(base_text):
    """Top-level keys of a HyperPyYAML file (its tags are kept, not resolved)."""
    return set(ruamel.yaml.YAML(typ="rt").load(base_text).keys())


def apply_protocol(base_text, protocol, protocols_dir):
    """Replace top-level keys of the experiment file with a protocol's.

    A protocol file (hparams/protocols/<name>.yaml) replaces whole entries,
    tags included (e.g. AdamW by Adadelta), which command-line overrides
    cannot; "study" is the experiment file itself.
    """
    if protocol == "study":
        return base_text
    path = Path(protocols_dir) / f"{protocol}.yaml"
    if not path.is_file():
        names = ["study"] + sorted(p.stem for p in Path(protocols_dir).glob("*.yaml"))
        raise HparamsError(f"Unknown protocol '{protocol}'; valid: {', '.join(names)}")
    yaml = ruamel.yaml.YAML(typ="rt")
    base = yaml.load(base_text)
    for key, value in yaml.load(path.read_text(encoding="utf-8")).items():
        base[key] = value
    base["protocol"] = protocol
    stream = io.StringIO()
    yaml.dump(base, stream)
    return stream.getvalue()


CPU_TINY_FILE = "cpu_tiny.yaml"  # beside the shared experiment file
PROBE_PROTOCOL = "probe"
# The probe head of `cpu_tiny: True` runs of the probe protocol (see the module docstring). Set
# here, not in cpu_tiny.yaml: that file applies to every protocol, and only the probe protocol
# declares probe_head.
CPU_TINY_PROBE_HEAD = "linear"


def check_override_keys(keys, experiment_text, base_file):
    """Raise HparamsError naming every key of `keys` the experiment file (its text, protocol
    applied) does not declare, with the declared keys closest to each; `base_file` is named."""
    declared = _declared_keys(experiment_text)
    unknown = [k for k in keys if k not in declared]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, declared, n=3)
            hints.append(f"'{key}'" + (f" (did you mean {', '.join(close)}?)" if close else ""))
        raise HparamsError(f"Unknown hparams key(s) {', '.join(hints)}: not declared in {base_file}")


def experiment_text(protocol="study", base_file=None):
    """The shared experiment file's text (default hparams/ctc_study.yaml) with `protocol` applied."""
    base_file = Path(base_file) if base_file else REPO_ROOT / "hparams" / "ctc_study.yaml"
    return apply_protocol(base_file.read_text(encoding="utf-8"), protocol, base_file.parent / "protocols")


def default_results_root(language_file):
    """<recipe folder>/results for a language file at <recipe folder>/hparams/<lang>.yaml."""
    folder = Path(language_file).resolve().parent
    return (folder.parent if folder.name == "hparams" else folder) / "results"


def load_recipe_hparams(language_file, cli_overrides=""):
    """Resolve a language hparams file with command-line overrides.

    Returns (hparams, experiment_yaml, overrides): the loaded hparams, the
    experiment file's text (protocol applied) and the merged overrides; the
    last two make the resolved hyperparams.yaml saved with results.
    """
    language_file = Path(language_file)
    if not language_file.is_file():
        raise HparamsError(f"hparams file {language_file} not found")
    language_data = _plain_yaml(language_file.read_text(encoding="utf-8"), language_file)
    cli = _plain_yaml(cli_overrides or "", "command-line overrides") if cli_overrides else {}
    base_rel = cli.pop("base_hparams", None) or language_data.pop("base_hparams", None)
    language_data.pop("base_hparams", None)
    if base_rel is None:
        raise HparamsError(f"{language_file}: missing `base_hparams` (the shared experiment file)")
    base_file = (language_file.parent / base_rel).resolve()
    if not base_file.is_file():
        base_file = Path(base_rel).resolve()
    if not base_file.is_file():
        raise HparamsError(f"{language_file}: base_hparams {base_rel} not found")
    overrides = _merge(language_data, cli)
    if overrides.get("cpu_tiny"):
        cpu_tiny_file = base_file.parent / CPU_TINY_FILE
        if not cpu_tiny_file.is_file():
            raise HparamsError(f"cpu_tiny: True, but {cpu_tiny_file} not found")
        cpu_tiny = _plain_yaml(cpu_tiny_file.read_text(encoding="utf-8"), cpu_tiny_file)
        overrides = _merge(_merge(language_data, cpu_tiny), cli)
        if overrides.get("protocol") == PROBE_PROTOCOL and "probe_head" not in overrides:
            overrides["probe_head"] = CPU_TINY_PROBE_HEAD
    if overrides.get("results_root") is None:
        overrides["results_root"] = str(default_results_root(language_file))
    base_text = apply_protocol(
        base_file.read_text(encoding="utf-8"), overrides.get("protocol", "study"), base_file.parent / "protocols"
    )
    if overrides.get("run_name") is None:
        defaults = ruamel.yaml.YAML(typ="rt").load(base_text)
        overrides["run_name"] = run_name(
            overrides.get("encoder", defaults["encoder"]),
            overrides.get("protocol", defaults["protocol"]),
            overrides.get("encoder_source", defaults["encoder_source"]),
        )

    check_override_keys(overrides, base_text, base_file)
    try:
        hparams = load_hyperpyyaml(base_text, overrides)
    except (ValueError, KeyError, TypeError) as err:
        raise HparamsError(f"{language_file} on {base_file.name}: {err}") from err
    return hparams, base_text, overrides


def resolved_yaml(experiment_yaml, overrides):
    """The experiment file with overrides applied and references resolved (to save)."""
    return resolve_references(experiment_yaml, overrides).getvalue()


REPO_ROOT = Path(__file__).resolve().parents[1]
RECIPES_DIR = REPO_ROOT / "recipes"


def language_file(lang, recipes_dir=RECIPES_DIR):
    """<recipes_dir>/<lang>/hparams/<lang>.yaml (default: the repository's recipes/)."""
    return Path(recipes_dir) / lang / "hparams" / f"{lang}.yaml"


def recipe_languages(recipes_dir=RECIPES_DIR):
    """The languages with a recipe in `recipes_dir` (a language file where language_file puts it), sorted."""
    recipes_dir = Path(recipes_dir)
    if not recipes_dir.is_dir():
        return []
    return sorted(p.name for p in recipes_dir.iterdir() if language_file(p.name, recipes_dir).is_file())


def read_language_data(lang, recipes_dir=RECIPES_DIR):
    """A language's hparams as plain data (text rules, synthetic voice and words, language facts)."""
    path = language_file(lang, recipes_dir)
    if not path.is_file():
        raise HparamsError(f"No recipe for language '{lang}': {path} not found")
    return _plain_yaml(path.read_text(encoding="utf-8"), path)


# ---- what each key means, for --help -------------------------------------------------------

OBJECT_TAGS = ("!new:", "!apply:", "!applyref:", "!name:")
_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_]\w*):(?P<value>[^#]*?)\s*(?:(?P<hash>#)\s?(?P<comment>.*))?$")
_SECTION_LINE = re.compile(r"^# -+ (?P<title>.+?) -+$")


@dataclass
class KeyDoc:
    """One settable key of an hparams file: dotted name, default as written, the comment beside it, its block."""

    key: str
    default: str
    meaning: str
    section: str


def key_docs(path):
    """KeyDocs of the keys of an hparams file that a command line can set, in file order.

    Read from the text (not with ruamel.yaml's comment API, which files a
    comment under the neighbouring key and section headers under the key
    before them): a key's meaning is its end-of-line comment plus the comment
    lines below it that start in the same column; blocks are the
    `# ---- Title ----` headers. Keys built by code (!new:, !apply:, !name:),
    their arguments and private keys (__set_seed) are left out; a nested
    mapping's keys are named parent.child.
    """
    docs, section, parents, skip_below, comment_column, above = [], "", [], None, None, []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        header = _SECTION_LINE.match(line)
        if header:
            section, comment_column, above = header["title"], None, []
            continue
        stripped = line.lstrip()
        if stripped.startswith("#"):
            if comment_column is not None and len(line) - len(stripped) == comment_column and docs:
                docs[-1].meaning = f"{docs[-1].meaning} {stripped[1:].strip()}".strip()
            else:
                comment_column = None
                above.append(stripped[1:].strip())
            continue
        match = _KEY_LINE.match(line)
        if not match:
            comment_column, above = None, []
            continue
        comment_above, above = " ".join(above).split(". ")[0], []  # its first sentence
        indent, key, value = len(match["indent"]), match["key"], match["value"].strip()
        if skip_below is not None and indent > skip_below:
            continue
        skip_below = None
        parents = [(i, k) for i, k in parents if i < indent]
        if key.startswith("__") or value.startswith(OBJECT_TAGS) or any(k is None for _, k in parents):
            skip_below, comment_column = indent, None
            continue
        name = ".".join([k for _, k in parents] + [key])
        if value == "":
            parents.append((indent, key))
        default = "(required)" if value == "!PLACEHOLDER" else value.removeprefix("!ref ")
        docs.append(KeyDoc(name, default, match["comment"] or comment_above, section))
        comment_column = (
            line.index("#", len(match["indent"]) + len(key) + 1 + len(match["value"])) if match["hash"] else None
        )
    return docs
