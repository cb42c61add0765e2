"""Which files of the repository count as the run's code: what git commits and patches hold.

New (untracked) files are taken only from the code folders, never from the runs' root,
and never when their name looks like a secret (`.env*`, keys, credentials, `.ssh/`, cloud
credential files), even inside a code folder; changes to tracked files with such names are
left out too. Files whose content holds a secret are found by `runforge.git.secret_scan`.
"""

from fnmatch import fnmatch
from pathlib import PurePosixPath

#: Folders whose new files belong to the code of a run.
CODE_FOLDERS = ("src", "configs", "scripts", "notebooks", "tests")
#: File names (lower case) that hold secrets: never committed, never put in a patch.
SECRET_NAMES = (
    ".env",
    ".env.*",
    "*.env",
    "*secret*",
    "*credential*",  # also gcloud's application_default_credentials.json
    "*password*",
    "*token",
    "*token.*",  # token.txt, hf_token.json; not tokenizer.py
    "*tokens",
    "*tokens.*",
    "*service_account*",
    "*service-account*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.keystore",
    "*.jks",
    "*.keytab",
    "*.gpg",
    "*.ovpn",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".kube",
    "kubeconfig",
    ".docker",
    ".netrc",
    ".pgpass",
    ".npmrc",
    ".pypirc",
    ".htpasswd",
    ".git-credentials",
    "*.kdbx",
)


def is_secret(path: str) -> bool:
    """Whether a file's name (any folder of its path too) looks like it holds a secret."""
    return any(
        fnmatch(part.lower(), pattern)
        for part in PurePosixPath(path).parts
        for pattern in SECRET_NAMES
    )


def is_code(path: str) -> bool:
    """Whether a path (relative to the repository) lies in one of the code folders."""
    parts = PurePosixPath(path).parts
    return len(parts) > 1 and parts[0] in CODE_FOLDERS


def new_code_files(untracked: list[str], excluded: list[str] = ()) -> list[str]:
    """The untracked files to commit or patch: in a code folder, not secret, not excluded.

    Args:
        untracked: Paths relative to the repository (`git ls-files --others`).
        excluded: Folders relative to the repository never taken (the runs' root).
    """
    excluded_parts = [PurePosixPath(folder).parts for folder in excluded]
    return [
        path
        for path in untracked
        if is_code(path)
        and not is_secret(path)
        and not any(PurePosixPath(path).parts[: len(e)] == e for e in excluded_parts if e)
    ]


def secret_pathspecs() -> list[str]:
    """Pathspecs that leave files with secret names, and folders' files, out of `git add`/`diff`."""
    return [
        f":(exclude,icase,glob)**/{pattern}{inside}"
        for pattern in SECRET_NAMES
        for inside in ("", "/**")
    ]


def literal_exclusions(paths: list[str]) -> list[str]:
    """Pathspecs that leave exactly these paths (relative to the repository's top) out."""
    return [f":(top,exclude,literal){path}" for path in paths]
