"""What git commits and patches take from a repository: code folders, never secrets."""

import pytest

from helpers import git
from runforge.git.code_files import is_secret, new_code_files, secret_pathspecs


@pytest.mark.parametrize(
    "path",
    [".env", ".env.local", "src/.env.production", "configs/prod.env", "my_secrets.json",
     "configs/API_SECRET.yaml", "credentials.json", "server.pem", "tls.key", "id_rsa",
     "id_ed25519.pub", ".netrc", "scripts/token.txt", "notebooks/secrets/keys.yaml",
     "src/.ssh/config", "src/.aws/credentials", "configs/.kube/config", ".docker/config.json",
     "application_default_credentials.json", "src/service_account.json", "gcp-service-account.json",
     ".pgpass", ".npmrc", "hf_token", "configs/api_tokens.yaml", "backup.gpg"],
)  # fmt: skip
def test_secret_names_are_recognised(path):
    assert is_secret(path)


@pytest.mark.parametrize(
    "path",
    ["src/train.py", "tests/configs/toy_model.yaml", "keyboard.py", "src/tokenizer.py",
     "src/my_data/tokens_dataset.py", "configs/my_model/tokenizer.yaml"],
)  # fmt: skip
def test_code_is_not_a_secret(path):
    assert not is_secret(path)


def test_new_files_are_taken_from_code_folders_only():
    untracked = ["src/new.py", "notes.txt", "logs/default/v1/config.yaml", "tests/test_x.py",
                 "src/.env", "configs/secret.yaml", "data/raw.bin", "scripts/run.sh",
                 "src/runs_root/x.yaml"]  # fmt: skip
    assert new_code_files(untracked, excluded=["src/runs_root"]) == [
        "src/new.py",
        "tests/test_x.py",
        "scripts/run.sh",
    ]


def test_the_pathspecs_keep_secret_files_out_of_git_add(git_repo):
    (git_repo / ".env.local").write_text("KEY=1\n")
    (git_repo / "src").mkdir()
    (git_repo / "src" / "id_rsa").write_text("key\n")
    (git_repo / "src" / "model.py").write_text("x = 1\n")
    (git_repo / "train.py").write_text("LR = 0.2\n")
    git(git_repo, "add", "--all", "--", ":/", *secret_pathspecs())
    staged = git(git_repo, "diff", "--cached", "--name-only").splitlines()
    assert staged == ["src/model.py", "train.py"]
