"""Secrets found by content: files whose text holds a key, a token or a password.

What `--git_commit_before_fit` would commit and what a run's patch would hold is scanned
with detect-secrets (its default plugins and filters: private key blocks, AWS and other
cloud keys, high-entropy strings, `password = ...` assignments, credentials in URLs, ...).
A file with a finding is left out and named in one warning line. detect-secrets is
imported only when there is a file to scan.
"""

import json
import tempfile
from collections.abc import Iterable
from pathlib import Path

#: Files larger than this are not read (data, not code); they are not left out for it.
MAX_SCANNED_BYTES = 2_000_000


def files_with_secrets(top: Path, paths: Iterable[str]) -> dict[str, str]:
    """The files among `paths` (relative to `top`) whose content holds a secret.

    Returns each such path with the kinds found (e.g. `Private Key, Secret Keyword`).
    Missing files (deleted ones), folders, binary files and files larger than
    `MAX_SCANNED_BYTES` have nothing to scan. A notebook is scanned as text (so that a
    picture is no key).
    """
    files = [
        path
        for path in dict.fromkeys(paths)
        if (top / path).is_file() and (top / path).stat().st_size <= MAX_SCANNED_BYTES
    ]
    if not files:
        return {}
    from detect_secrets import SecretsCollection  # lazily: 0.1 s, only when there are files
    from detect_secrets.settings import default_settings

    kinds = {path: _SCANNED.get(_version(top / path)) for path in files}
    if any(found is None for found in kinds.values()):
        with tempfile.TemporaryDirectory() as scratch, default_settings():
            for path in (path for path, found in kinds.items() if found is None):
                found = SecretsCollection()
                found.scan_file(_text_to_scan(top / path, Path(scratch)))
                kinds[path] = _SCANNED[_version(top / path)] = {s.type for _, s in found}
    return {path: ", ".join(sorted(kinds[path])) for path in files if kinds[path]}


#: What was found in each file version this process scanned (a sweep's trials scan once).
_SCANNED: dict[tuple[str, int, int], set[str]] = {}


def _version(file: Path) -> tuple[str, int, int]:
    """A file's path, modification time and size: its content, as far as a cache can tell."""
    stat = file.stat()
    return str(file.resolve()), stat.st_mtime_ns, stat.st_size


def _text_to_scan(file: Path, scratch: Path) -> str:
    """The file to scan for `file`: a notebook as plain text, its cells and outputs.

    In the notebook's JSON a picture is a quoted base64 string, which looks like a key; in
    plain text it is not quoted, and only quoted strings are taken for high-entropy keys.
    """
    if file.suffix != ".ipynb":
        return str(file)
    try:
        cells = json.loads(file.read_text()).get("cells", [])
    except (ValueError, UnicodeDecodeError, AttributeError):
        return str(file)  # not a notebook's JSON: scanned as it is
    parts = []
    for cell in cells:
        parts.append(cell.get("source", ""))
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts += output.get("data", {}).values()
    text = "\n".join("".join(part) if isinstance(part, list) else str(part) for part in parts)
    copy = scratch / f"{len(list(scratch.iterdir()))}.txt"
    copy.write_text(text)
    return str(copy)


def left_out_line(what: str, secrets: dict[str, str]) -> str:
    """The one warning line that names the files left out of `what` and what to do."""
    names = "; ".join(f"{path} ({kinds})" for path, kinds in sorted(secrets.items()))
    return (
        f"{what}: left out {len(secrets)} file(s) that look like they hold secrets: {names}. "
        "Move the secret into .env (never committed) or the file into .gitignore; a line "
        "that holds no secret can end with `# pragma: allowlist secret`"
    )
