"""The report being written: its Markdown, tables and figures, and what every section shares.

Each section (crossling_asr.analysis.report's, the probe and the reproduction sections) writes
into one `Report`; the ordering of encoders and the known language facts are shared by them.
"""

import logging
from pathlib import Path

from crossling_asr.analysis.aggregate import write_table

log = logging.getLogger(__name__)


class Report:
    """Collects the report's Markdown while writing its tables and figures."""

    def __init__(self, out_dir):
        self.out = Path(out_dir)
        self.parts = []

    def text(self, markdown):
        self.parts.append(markdown.strip() + "\n")

    def warn(self, message):
        """A warning in report.md and in the log (stderr of local/report.py)."""
        log.warning(message)
        self.text(f"**Warning:** {message}")

    def table(self, frame, name, caption, digits=2, embed=True):
        text = write_table(frame, self.out / "tables" / name, digits)
        link = f"[CSV](tables/{name}.csv)"
        self.text(
            f"{caption} ({link})\n\n{text}"
            if embed
            else f"{caption}: {len(frame)} rows, {link}, [Markdown](tables/{name}.md)"
        )

    def figure(self, png, caption):
        relative = Path(png).relative_to(self.out)
        self.text(
            f"![{caption}]({relative.as_posix()})\n\n*{caption}* ([PDF]({relative.with_suffix('.pdf').as_posix()}))"
        )

    def write(self):
        path = self.out / "report.md"
        path.write_text("\n".join(self.parts), encoding="utf-8")
        return path


def ordered_encoders(found, registry):
    """Encoders in registry order (the baseline last), then any unknown to the registry."""
    known = [name for name in registry if name in found and not registry[name].get("random_init")]
    baselines = [name for name in registry if name in found and registry[name].get("random_init")]
    return known + baselines + sorted(set(found) - set(registry))


def known_facts(facts, key):
    """{language: value} of the languages whose `key` is known."""
    return {lang: value for lang, value in zip(facts["language"], facts[key]) if isinstance(value, str)}
