"""Finished pieces of a long analysis kept in a folder, so an interrupted run resumes.

A folder holds one request (``request.json``, the analysis's inputs) and one ``.npz`` file per
finished piece, each written atomically (:func:`nephrosim.io.atomic_path`): a piece is either
complete or absent. Rerunning the same request reads the finished pieces back and computes the
rest; a different request in the same folder is refused, never mixed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from nephrosim.errors import UserInputError
from nephrosim.io import atomic_path, check_writable, write_text_atomic


class Checkpoints:
    """Pieces of one request in ``folder`` (``None``: keep nothing)."""

    def __init__(self, folder, what: str, request: dict):
        self.folder = None if folder is None else Path(folder)
        if self.folder is None:
            return
        manifest = self.folder / "request.json"
        check_writable(manifest)
        text = json.dumps({"analysis": what, **request}, sort_keys=True)
        if manifest.is_file():
            if manifest.read_text(encoding="utf-8") != text:
                raise UserInputError(f"out: {self.folder} holds {what} of a different request (scenario or "
                                     "options); give another folder, or delete it to start again")
        else:
            write_text_atomic(manifest, text)

    def has(self, key: str) -> bool:
        return self.folder is not None and (self.folder / f"{key}.npz").is_file()

    def load(self, key: str) -> dict | None:
        """The arrays saved under ``key``, or ``None`` when that piece is not finished."""
        if not self.has(key):
            return None
        with np.load(self.folder / f"{key}.npz") as data:
            return {k: data[k] for k in data.files}

    def save(self, key: str, **arrays) -> None:
        if self.folder is None:
            return
        with atomic_path(self.folder / f"{key}.npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)
