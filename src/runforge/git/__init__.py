"""Git for runs: `--git_commit_before_fit`, the code files it takes, and secrets it never takes."""
