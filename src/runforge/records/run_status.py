"""How a fit ended, in the last entry of its run's `provenance.json`.

`status` is `running` (with the process's `hostname` and `pid`) from the start of a fit,
and replaced when the fit ends: `finished`, `stopped` (by SIGTERM or Ctrl-C: resumable) or
`failed` (with `error`: the exception's type and first line). A fit killed outright
(SIGKILL, power loss) keeps `running`, with a process that no longer exists.
"""

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from lightning.pytorch.utilities.exceptions import SIGTERMException


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Replace `path` with `document` as JSON, atomically."""
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n")
    os.replace(temporary, path)


def status_of(exception: BaseException) -> tuple[str, str | None]:
    """(`stopped`, None) for a signal's stop, else (`failed`, '<type>: <first line>')."""
    if isinstance(exception, SIGTERMException):
        return "stopped", None
    lines = str(exception).strip().splitlines()
    return "failed", f"{type(exception).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def set_status(path: Path, status: str, error: str | None = None) -> None:
    """Record in the last entry of `provenance.json` at `path` how its fit ended."""
    if not path.is_file():
        return
    document = json.loads(path.read_text())
    entry = document["entries"][-1]
    entry["status"] = status
    entry["ended_at"] = datetime.now().astimezone().isoformat(timespec="seconds")
    if error is not None:
        entry["error"] = error
    write_json(path, document)
