"""The project's commands (console scripts crossling-<tool>; local/<tool>.py call the same main).

Every command parses its arguments before importing torch, speechbrain or
transformers, so that --help answers at once. Options that several commands
share are declared here once.
"""

from pathlib import Path


def add_export_destination_arguments(parser, written="export"):
    """export_dir, --overwrite, --upload and --public of the commands that write a shareable model folder."""
    parser.add_argument("export_dir", type=Path, help="the folder to write")
    parser.add_argument("--overwrite", action="store_true", help=f"replace an earlier {written} in export_dir")
    parser.add_argument("--upload", metavar="REPO_ID", help="also upload to the Hugging Face hub")
    parser.add_argument("--public", action="store_true", help="make the uploaded repo public")
