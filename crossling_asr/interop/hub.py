"""Uploading a model folder to the Hugging Face hub, in one commit.

An EncoderASR folder's hyperparams.yaml names its folder by the absolute path it was written
to (`model_dir`); uploaded, it must name the repo instead, so that
`EncoderASR.from_hparams(source=repo_id)` fetches everything from there. That one file is sent
from memory with the repo id; every other file from its path in the folder (nothing is copied,
the local folder is unchanged). A folder without that line (a transformers export) is sent as
it is.
"""

import json
from pathlib import Path

HPARAMS_FILE = "hyperparams.yaml"


def hub_hyperparams(export_dir: Path, repo_id: str) -> str | None:
    """The folder's hyperparams.yaml with `model_dir` pointing at `repo_id`; None when it has none.

    A hyperparams.yaml whose model_dir is not this folder (copied from elsewhere) is refused:
    uploaded as it is, it would load files from a path on this machine.
    """
    hparams_file = export_dir / HPARAMS_FILE
    if not hparams_file.is_file():
        return None
    text = hparams_file.read_text(encoding="utf-8")
    local_line = f"model_dir: {json.dumps(str(export_dir.resolve()))}"
    if local_line not in text:
        raise ValueError(f"{hparams_file} has no model_dir line for this folder")
    return text.replace(local_line, f"model_dir: {json.dumps(repo_id)}")


def upload_export(export_dir: Path, repo_id: str, private: bool = True) -> str:
    """Upload a model folder as the hub repo `repo_id` (created if needed) in one commit; returns its URL."""
    from huggingface_hub import CommitOperationAdd, HfApi

    export_dir = Path(export_dir)
    hub_hparams = hub_hyperparams(export_dir, repo_id)
    operations = [
        CommitOperationAdd(path_in_repo=path.relative_to(export_dir).as_posix(), path_or_fileobj=str(path))
        for path in sorted(export_dir.rglob("*"))
        if path.is_file() and not (hub_hparams is not None and path.name == HPARAMS_FILE and path.parent == export_dir)
    ]
    if hub_hparams is not None:
        operations.append(CommitOperationAdd(path_in_repo=HPARAMS_FILE, path_or_fileobj=hub_hparams.encode("utf-8")))
    api = HfApi()
    url = api.create_repo(repo_id, private=private, exist_ok=True)
    api.create_commit(repo_id, operations, commit_message="Upload exported model")
    return str(url)
