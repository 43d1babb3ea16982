"""Writing a model folder all at once: staged beside its target, renamed into place when complete.

Every command that writes a shareable model folder (an EncoderASR export, a transformers
export, an import of a transformers checkpoint) goes through `staged_folder`, so a reader of
the target sees the earlier folder or the finished new one, never half of one, and nothing but
an earlier folder of the same kind is ever replaced.
"""

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from crossling_asr.atomic import current_umask


class ExportTargetError(ValueError):
    """A target folder that must not be replaced (not a folder, someone else's files, no --overwrite)."""


def check_target(export_dir: Path, overwrite: bool, marker: str) -> None:
    """Refuse to replace anything but an earlier folder holding `marker` (and that only with `overwrite`).

    An empty folder is removed, so that the staged one can take its name.
    """
    if not export_dir.exists():
        return
    if not export_dir.is_dir():
        raise ExportTargetError(f"{export_dir} exists and is not a directory")
    if not any(export_dir.iterdir()):
        export_dir.rmdir()
        return
    if not (export_dir / marker).is_file():
        raise ExportTargetError(f"{export_dir} is not empty and is not an exported model: not touching it")
    if not overwrite:
        raise ExportTargetError(f"{export_dir} already holds an exported model (use --overwrite)")


@contextlib.contextmanager
def staged_folder(export_dir: Path, overwrite: bool, marker: str) -> Iterator[Path]:
    """Yield a fresh folder beside `export_dir` to write into; on success it replaces `export_dir`.

    The target is checked first (`check_target`). The finished folder and its files get the
    permissions the umask gives new ones (mkdtemp's folder is private to its owner); on any
    error the staging folder is removed and the target is left as it was.
    """
    export_dir = Path(export_dir).resolve()
    check_target(export_dir, overwrite, marker)
    export_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{export_dir.name}.", dir=export_dir.parent))
    try:
        yield staging
        umask = current_umask()
        staging.chmod(0o777 & ~umask)
        for path in staging.rglob("*"):
            path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)
        if export_dir.exists():
            shutil.rmtree(export_dir)
        staging.rename(export_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
