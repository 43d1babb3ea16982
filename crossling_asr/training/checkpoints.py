"""A Checkpointer whose checkpoints appear only once complete.

SpeechBrain's Checkpointer writes CKPT.yaml (which makes a directory count as
a checkpoint) before the parameter files; a run killed in between leaves a
"checkpoint" that fails or, worse, half-loads on resume. This one writes the
whole checkpoint in a staging directory and renames it into place, so a kill
at any moment leaves either the complete new checkpoint or none.
"""

import os
import shutil

from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.distributed import if_main_process

STAGING = ".staging"


class AtomicCheckpointer(Checkpointer):
    """Checkpointer with atomic checkpoint directories (see module docstring)."""

    def save_checkpoint(self, meta=None, end_of_epoch=True, name=None, verbosity=20):
        meta = {} if meta is None else meta
        final_root = self.checkpoints_dir
        staging = final_root / STAGING
        if if_main_process():
            shutil.rmtree(staging, ignore_errors=True)  # left by a killed save
        self.checkpoints_dir = staging
        try:
            ckpt = super().save_checkpoint(meta=meta, end_of_epoch=end_of_epoch, name=name, verbosity=verbosity)
        finally:
            self.checkpoints_dir = final_root
        if ckpt is None:  # not the main process: it wrote nothing
            return None
        final = final_root / ckpt.path.name
        suffix = 0
        while final.exists():
            suffix += 1
            final = final_root / f"{ckpt.path.name}-{suffix}"
        os.replace(ckpt.path, final)
        fd = os.open(final_root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        paramfiles = {key: final / path.name for key, path in ckpt.paramfiles.items()}
        return ckpt._replace(path=final, paramfiles=paramfiles)
