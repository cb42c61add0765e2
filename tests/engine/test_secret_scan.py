"""Secrets found by content: left out of `--git_commit_before_fit`'s commit and the run's patch.

The keys are made at test time in the shapes the scanners know: a PEM private key block
(as in a cloud service-account JSON), AWS access keys, high-entropy tokens in YAML and JSON.
"""

import base64
import collections
import json
import logging
import math
import secrets
import string
import subprocess

import pytest

from helpers import ROOT, git
from runforge.git.commit import GitCommit
from runforge.git.secret_scan import files_with_secrets
from runforge.records.provenance import Provenance


def high_entropy_token() -> str:
    """A random base64 token whose entropy is clearly above detect-secrets' limit (4.5 bits
    per character): a random draw falls below that limit a few times in a hundred."""
    while True:
        token = base64.b64encode(secrets.token_bytes(30)).decode()
        counts = collections.Counter(token)
        entropy = -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())
        if entropy > 4.8:
            return token


def private_key_json() -> tuple[str, str]:
    """A service-account-like JSON holding a fresh PEM private key block; (text, key body)."""
    body = base64.b64encode(secrets.token_bytes(1218)).decode()
    lines = "\\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    begin = "-----BEGIN PRIVATE KEY-----"  # pragma: allowlist secret
    pem = f"{begin}\\n{lines}\\n-----END PRIVATE KEY-----\\n"
    return f'{{"type": "service_account", "project_id": "p", "private_key": "{pem}"}}\n', body[:64]


def aws_keys() -> tuple[str, str]:
    """Python assigning an AWS-style access key id and secret key; (text, secret key)."""
    key_id = "AKIA" + "".join(
        secrets.choice(string.ascii_uppercase + string.digits) for _ in "x" * 16
    )
    secret = high_entropy_token()
    return f'AWS_ACCESS_KEY_ID = "{key_id}"\nAWS_SECRET_ACCESS_KEY = "{secret}"\n', secret


@pytest.fixture
def hostile_repo(git_repo):
    """The repository with secrets in new and changed files whose names look harmless.

    Returns the repository, the paths expected to be left out for their content, and each
    secret value (none of which may reach a commit or a patch).
    """
    key_json, key = private_key_json()
    aws, aws_secret = aws_keys()
    api_key, token = secrets.token_hex(20), high_entropy_token()
    files = {
        "configs/api_keys.yaml": f"wandb:\n  api_key: {api_key}\n",  # untracked
        "src/cloud.json": key_json,
        "scripts/upload.py": aws,
        "configs/settings.json": f'{{"hub_token": "{token}"}}\n',
    }
    for name, text in files.items():
        (git_repo / name).parent.mkdir(parents=True, exist_ok=True)
        (git_repo / name).write_text(text)
    (git_repo / "train.py").write_text(f"LR = 0.2\nHUB = '{token}'\n")  # tracked, now a secret
    (git_repo / "configs" / "model.yaml").write_text("lr: 0.2\n")  # a clean new file
    return git_repo, sorted([*files, "train.py"]), [api_key, key, aws_secret, token]


def test_the_commit_leaves_out_files_with_secrets_and_warns_once(hostile_repo, caplog):
    repo, with_secrets, values = hostile_repo
    with caplog.at_level(logging.WARNING):
        step = GitCommit("Run exp/v1", cwd=repo)
        step.commit()
    assert step.committed and step.files == ["configs/model.yaml"]
    assert sorted(step.secrets) == with_secrets
    assert "Private Key" in step.secrets["src/cloud.json"]
    assert "AWS Access Key" in step.secrets["scripts/upload.py"]
    commit = git(repo, "show", "HEAD")
    assert not [value for value in values if value in commit]
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "\n" not in warning and all(name in warning for name in with_secrets), warning
    left = git(repo, "ls-files", "--modified", "--others", "--exclude-standard").split()
    assert sorted(left) == with_secrets, "the files stay as they are, uncommitted"


def test_a_changed_tracked_file_with_a_secret_name_is_never_staged(git_repo):
    (git_repo / "configs").mkdir()
    (git_repo / "configs" / "secrets.yaml").write_text("key: old\n")
    (git_repo / "src" / ".ssh").mkdir(parents=True)
    (git_repo / "src" / ".ssh" / "config").write_text("Host x\n")
    git(git_repo, "add", "-f", "configs/secrets.yaml", "src/.ssh/config")
    git(git_repo, "commit", "-q", "-m", "tracked by mistake")
    (git_repo / "configs" / "secrets.yaml").write_text("key: new\n")
    (git_repo / "src" / ".ssh" / "config").write_text("Host y\n")
    (git_repo / "src" / ".aws").mkdir()
    (git_repo / "src" / ".aws" / "credentials").write_text("[default]\n")
    (git_repo / "src" / "service_account.json").write_text("{}\n")
    (git_repo / "train.py").write_text("LR = 0.3\n")
    step = GitCommit("Run exp/v2", cwd=git_repo)
    step.commit()
    assert step.files == ["train.py"]
    assert "key: old" in git(git_repo, "show", "HEAD:configs/secrets.yaml")


def test_the_patch_leaves_out_files_with_secrets(hostile_repo, tmp_path, caplog):
    repo, with_secrets, values = hostile_repo
    run = tmp_path / "run"
    with caplog.at_level(logging.WARNING):
        entry = Provenance(command=["fit"], cwd=str(repo)).record(run)
    patch = (run / "git.diff").read_text()
    assert "configs/model.yaml" in patch and "+lr: 0.2" in patch
    assert not [value for value in values if value in patch]
    assert sorted(entry["git"]["secrets_not_in_diff"]) == with_secrets
    assert set(with_secrets) - {"train.py"} <= set(entry["git"]["untracked_not_in_diff"])
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "git.diff" in warning and all(name in warning for name in with_secrets)


def test_commit_then_patch_warn_once_in_all(hostile_repo, tmp_path, caplog):
    repo, with_secrets, values = hostile_repo
    with caplog.at_level(logging.WARNING):
        entry = Provenance(command=["fit"], cwd=str(repo)).record(
            tmp_path / "run", git_commit=GitCommit("Run exp/v1", cwd=repo)
        )
    assert entry["git"]["committed_files"] == ["configs/model.yaml"]
    assert sorted(entry["git"]["secrets_not_in_diff"]) == with_secrets
    assert not [value for value in values if value in (tmp_path / "run" / "git.diff").read_text()]
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_no_tracked_file_of_the_template_holds_a_secret():
    """The scanner finds nothing in the template itself, so nothing of it is ever left out."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    assert files_with_secrets(ROOT, [name for name in tracked if name]) == {}


def test_an_allowlisted_line_is_no_finding(tmp_path):
    checksum = secrets.token_hex(32)
    (tmp_path / "data.py").write_text(f'SHA256 = "{checksum}"\n')
    assert "Hex High Entropy String" in files_with_secrets(tmp_path, ["data.py"])["data.py"]
    (tmp_path / "data.py").write_text(f'SHA256 = "{checksum}"  # pragma: allowlist secret\n')
    assert files_with_secrets(tmp_path, ["data.py", "gone.py"]) == {}


def _notebook(source: str, picture: str) -> str:
    output = {"output_type": "display_data", "metadata": {}, "data": {"image/png": picture}}
    cell = {"cell_type": "code", "metadata": {}, "source": [source], "outputs": [output]}
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_a_notebooks_pictures_are_no_secret_but_its_code_is_scanned(tmp_path):
    picture = base64.b64encode(secrets.token_bytes(3000)).decode()  # as random as a PNG
    (tmp_path / "plots.ipynb").write_text(_notebook("plt.plot(losses)\n", picture))
    token = high_entropy_token()
    (tmp_path / "hub.ipynb").write_text(_notebook(f'login(token="{token}")\n', picture))
    assert list(files_with_secrets(tmp_path, ["plots.ipynb", "hub.ipynb"])) == ["hub.ipynb"]
