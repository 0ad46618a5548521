"""Writing a built offline world into its cache directory atomically (shared by both world builders)."""

import json
import os
import shutil
from pathlib import Path


def save_world(path: Path, model, tokenizer, meta_file: str, meta: dict, is_built, force: bool = False,
               finish=None) -> Path:
    """Save model + tokenizer (+ `finish(staging)` edits, + the meta JSON) beside `path`, then rename into place.

    A crash mid-build never leaves a half-written world at `path`, and a world another process just finished
    is never deleted: when the rename loses that race, the other copy is identical and this one is dropped.
    """
    staging = path.with_name(f"{path.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    if finish is not None:
        finish(staging)
    (staging / meta_file).write_text(json.dumps(meta, indent=1))
    if force or (path.exists() and not is_built(path)):
        shutil.rmtree(path, ignore_errors=True)
    try:
        staging.rename(path)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return path
