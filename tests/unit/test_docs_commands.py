"""The commands README.md and docs/*.md show are commands that run.

Every `local/<tool>.py` and `crossling-<tool>` they mention exists (the file, and the console
script in pyproject.toml, both running crossling_asr.cli.<tool>:main); every `--option` written
after a `local/<tool>.py` in a command (a shell code block, or an inline code span) is an option
of that tool's parser (of its subcommand, where it has them); every `--key=value` after
`train.py hparams/<lang>.yaml`, or after a bare `--` that passes overrides to the recipe, is a key
of hparams/ctc_study.yaml or of a protocol file, or a SpeechBrain run option, and so is every
snake_case `--key` of an inline code span. The parsers are
the commands' own: each command's main() is called and its parser captured at the moment it
parses, so nothing here repeats what the parsers declare. The package's files and names the
pages mention exist, and docs/layout.md's tree lists exactly the package's modules.
"""

import argparse
import functools
import importlib
import re
import shlex
from pathlib import Path
from unittest import mock

import pytest
import ruamel.yaml
import tomllib

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SHELL_BLOCKS = {"", "bash", "sh", "shell", "console", "text"}
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.M | re.S)
INLINE_CODE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
LOCAL_TOOL = re.compile(r"\blocal/(\w+)\.py\b")
CONSOLE_SCRIPT = re.compile(r"(?<![\w/.-])crossling-([a-z][a-z0-9-]*[a-z0-9])\b(?![<\w])")
SNAKE_OPTION = re.compile(r"--([a-z0-9]+(?:_[a-z0-9]+)+)(?:=.*)?")
SEPARATORS = {"|", "||", "&&", ";", ">", ">>", "<", "2>", "&"}


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


class _Parsed(Exception):
    """Raised in place of parsing: carries the parser a command built."""

    def __init__(self, parser):
        super().__init__()
        self.parser = parser


def captured_parser(entry, argv):
    """The ArgumentParser `entry(argv)` builds, taken when it starts parsing (nothing else runs)."""

    def capture(self, args=None, namespace=None):
        raise _Parsed(self)

    with mock.patch.object(argparse.ArgumentParser, "parse_known_args", capture):
        try:
            entry(argv)
        except _Parsed as parsed:
            return parsed.parser
    raise AssertionError(f"{entry} returned without parsing its arguments")


def subcommands(parser):
    """{name: subparser} of a parser with subcommands, else {}."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def option_strings(parser):
    return {option for action in parser._actions for option in action.option_strings}


@functools.cache
def tool_parser(tool):
    """The parser of crossling_asr.cli.<tool>:main."""
    return captured_parser(importlib.import_module(f"crossling_asr.cli.{tool}").main, [])


def recipe_keys():
    """Keys a recipe accepts as --key=value: the experiment's, the protocols', SpeechBrain's run options."""
    from speechbrain import parse_arguments

    yaml = ruamel.yaml.YAML(typ="rt")
    keys = set(yaml.load((ROOT / "hparams" / "ctc_study.yaml").read_text(encoding="utf-8")))
    for protocol in (ROOT / "hparams" / "protocols").glob("*.yaml"):
        keys |= set(yaml.load(protocol.read_text(encoding="utf-8")))
    run_options = captured_parser(parse_arguments, ["hparams.yaml"])
    keys |= {option[2:] for option in option_strings(run_options) if option.startswith("--")}
    return keys


def shell_commands(text):
    """Each command line of the shell code blocks and inline code spans of a page, as tokens.

    Continuation lines (a trailing backslash) are joined; `# comments` are dropped; a command
    line is cut at pipes, redirections and `&&`.
    """
    commands = []
    for block in FENCE.finditer(text):
        if block["lang"] not in SHELL_BLOCKS:
            continue
        body = "\n".join(line[len(block["indent"]) :] for line in block["body"].splitlines())
        for line in body.replace("\\\n", " ").splitlines():
            commands += split_command(line)
    prose = FENCE.sub("", text)
    for span in INLINE_CODE.findall(prose):
        if LOCAL_TOOL.search(span) or re.search(r"\btrain\.py\s+\S+\.yaml", span):
            commands += split_command(span)
    return commands


def split_command(line):
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError:  # an unbalanced quote in prose: not a command
        return []
    commands, current = [], []
    for token in tokens:
        if token in SEPARATORS:
            commands.append(current)
            current = []
        else:
            current.append(token.strip("[]"))
    return [command for command in commands + [current] if command]


def check_recipe_overrides(tokens, keys, where):
    errors = []
    for token in tokens:
        if token.startswith("--") and len(token) > 2:
            key = token[2:].split("=", 1)[0]
            if key not in keys:
                errors.append(f"{where}: recipe override {token!r}: no such key or run option")
    return errors


def check_command(tokens, keys, where):
    """Problems of one command line (a list of tokens): unknown tools, options and keys."""
    errors = []
    for i, token in enumerate(tokens):
        tool = LOCAL_TOOL.fullmatch(token) or LOCAL_TOOL.fullmatch(token.removeprefix("./"))
        if tool:
            errors += check_tool_arguments(tool[1], tokens[i + 1 :], keys, where)
            break
        if token.endswith("train.py") and i + 1 < len(tokens) and tokens[i + 1].endswith(".yaml"):
            errors += check_recipe_overrides(tokens[i + 2 :], keys, where)
            break
    return errors


def check_tool_arguments(tool, arguments, keys, where):
    if not (ROOT / "local" / f"{tool}.py").is_file():
        return [f"{where}: local/{tool}.py does not exist"]
    parser, chain, errors = tool_parser(tool), [f"local/{tool}.py"], []
    allowed = option_strings(parser)
    expects_subcommand = bool(subcommands(parser))
    for position, token in enumerate(arguments):
        if token == "--":
            return errors + check_recipe_overrides(arguments[position + 1 :], keys, where)
        if token.startswith("-") and len(token) > 1 and not token[1:2].isdigit():
            option = token.split("=", 1)[0]
            if option not in allowed:
                errors.append(f"{where}: {' '.join(chain)} has no option {option}")
        elif expects_subcommand and token != "...":
            choices = subcommands(parser)
            if token not in choices:
                errors.append(f"{where}: {' '.join(chain)} has no subcommand {token!r} ({', '.join(sorted(choices))})")
                return errors
            parser = choices[token]
            chain.append(token)
            allowed |= option_strings(parser)
            expects_subcommand = bool(subcommands(parser))
    return errors


def prose_override_problems(text, keys, where):
    """Recipe keys written alone in prose (`--number_of_epochs=5`): snake_case options are the recipe's."""
    errors = []
    for span in INLINE_CODE.findall(FENCE.sub("", text)):
        tokens = span.split()
        if any(token.endswith("train.py") for token in tokens):
            tokens = tokens[[token.endswith("train.py") for token in tokens].index(True) :]
        for token in tokens:
            key = SNAKE_OPTION.fullmatch(token.strip("[]"))
            if key and key[1] not in keys:
                errors.append(f"{where}: recipe override {token!r}: no such key or run option")
    return sorted(set(errors))


def problems(text, keys, where):
    commands = [error for tokens in shell_commands(text) for error in check_command(tokens, keys, where)]
    return commands + prose_override_problems(text, keys, where)


@pytest.fixture(scope="module")
def keys():
    return recipe_keys()


def test_every_local_tool_and_console_script_mentioned_exists():
    scripts = pyproject()["project"]["scripts"]
    name = pyproject()["project"]["name"]
    missing = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for tool in set(LOCAL_TOOL.findall(text)):
            if not (ROOT / "local" / f"{tool}.py").is_file():
                missing.append(f"{page.relative_to(ROOT)}: local/{tool}.py")
            script = "crossling-" + tool.replace("_", "-")
            if scripts.get(script) != f"crossling_asr.cli.{tool}:main":
                missing.append(f"{page.relative_to(ROOT)}: local/{tool}.py has no console script {script}")
        for dashed in set(CONSOLE_SCRIPT.findall(text)):
            script = f"crossling-{dashed}"
            if script == name:
                continue
            tool = dashed.replace("-", "_")
            if scripts.get(script) != f"crossling_asr.cli.{tool}:main":
                missing.append(f"{page.relative_to(ROOT)}: console script {script}")
            if not (ROOT / "local" / f"{tool}.py").is_file():
                missing.append(f"{page.relative_to(ROOT)}: {script} has no local/{tool}.py")
    assert not missing, "\n".join(missing)


def test_every_console_script_has_its_local_wrapper_and_module():
    for script, target in pyproject()["project"]["scripts"].items():
        tool = script.removeprefix("crossling-").replace("-", "_")
        assert target == f"crossling_asr.cli.{tool}:main", script
        assert (ROOT / "local" / f"{tool}.py").is_file(), script
        assert (ROOT / "crossling_asr" / "cli" / f"{tool}.py").is_file(), script


def test_options_and_overrides_in_the_docs_are_accepted(keys):
    found = []
    checked = 0
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        checked += len(shell_commands(text))
        found += problems(text, keys, page.relative_to(ROOT))
    assert checked > 50, "too few commands found: the parsing of the pages is broken"
    assert not found, "\n".join(found)


def test_the_check_catches_typos(keys):
    page = """
```bash
cd recipes/es
python train.py hparams/es.yaml --data_folder=/data/es --number_of_epoch=1 \\
    --seed=2 --precision=bf16 --distributed_backend=gloo --probe_head=linear
python local/grid.py run --results-root R --langz es -- --number_of_epochs=1 --encoder_sourse=x
python local/grid.py released statuss --results-root R
python local/transcribe.py model clips/ --out t.tsv [--referencez refs.tsv]
python local/no_such_tool.py --help
```

Prose: `local/report.py --update-recipe-readme` and `local/demo.py --epochs 2`;
`--number_of_epochs=5`, `--gradient_checkpoint=True`, `--compile`.
"""
    found = problems(page, keys, "page.md")
    assert found == [
        "page.md: recipe override '--number_of_epoch=1': no such key or run option",
        "page.md: local/grid.py run has no option --langz",
        "page.md: recipe override '--encoder_sourse=x': no such key or run option",
        "page.md: local/grid.py released has no subcommand 'statuss' (cost, plan, prepare, run, status)",
        "page.md: local/transcribe.py has no option --referencez",
        "page.md: local/no_such_tool.py does not exist",
        "page.md: local/report.py has no option --update-recipe-readme",
        "page.md: recipe override '--gradient_checkpoint=True': no such key or run option",
    ]


def test_code_paths_and_names_in_the_docs_exist():
    """crossling_asr/<...>.py and bench/<...>.py files, and crossling_asr.<module>[.<name>] names."""
    missing = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for path in set(re.findall(r"\b(?:crossling_asr|bench)/[\w/]*\w\.py\b", text)):
            if not (ROOT / path).is_file():
                missing.append(f"{page.relative_to(ROOT)}: {path}")
        for dotted in set(re.findall(r"\bcrossling_asr(?:\.\w+)+", text)):
            if not resolves(dotted):
                missing.append(f"{page.relative_to(ROOT)}: {dotted}")
    assert not missing, "\n".join(missing)


def resolves(dotted):
    """Whether a dotted name is a module of the package, or a name defined in one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


def test_layout_page_lists_exactly_the_package_modules():
    text = (ROOT / "docs" / "layout.md").read_text(encoding="utf-8")
    tree = next(block["body"] for block in FENCE.finditer(text) if block["body"].startswith("crossling_asr/"))
    listed, folders = set(), []
    for line in tree.splitlines():
        name = line.split()[0]
        depth = (len(line) - len(line.lstrip(" "))) // 4
        folders = folders[:depth]
        if name.endswith("/"):
            folders.append(name.rstrip("/"))
        else:
            listed.add("/".join([*folders, name]))
    modules = {str(path.relative_to(ROOT)) for path in (ROOT / "crossling_asr").rglob("*.py")}
    assert listed == modules, (sorted(modules - listed), sorted(listed - modules))


def test_every_module_has_its_api_reference():
    documented = {
        line.removeprefix("::: ").strip()
        for page in (ROOT / "docs" / "api").glob("*.md")
        for line in page.read_text(encoding="utf-8").splitlines()
        if line.startswith("::: ")
    }
    modules = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in (ROOT / "crossling_asr").rglob("*.py")
        if path.name != "__init__.py" or path.parent.name == "cli"
    }
    assert modules <= documented, sorted(modules - documented)
