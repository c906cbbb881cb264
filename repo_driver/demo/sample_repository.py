"""A microkernel repository made on the spot, for the demo, the tests and the throughput benchmark.

Three repositories, as in real use: an author's working repository, the bare "upstream"
it pushes to, and the checkout the driver follows (a clone of upstream, fetched by the
driver). Commits get fixed, increasing dates, so runs are reproducible and the exec cache
names are stable. A commit can slow one operator by changing its `#define` default in
the source, break the build, or change nothing that matters.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import git

SOURCE_DIR = Path(__file__).resolve().parents[2] / "examples" / "microkernel"
SOURCE = "microkernel.c"
FIRST_COMMIT_TIME = 1767571200  # Monday 2026-01-05 00:00 UTC
SECONDS_BETWEEN_COMMITS = 600
BREAKAGE = "#error this commit does not build\n"


class SampleRepository:
    def __init__(self, root: Path, branch: str = "main") -> None:
        self.root = root
        self.branch = branch
        self.upstream_dir = root / "upstream.git"
        self.author_dir = root / "author"
        self.checkout_dir = root / "checkout"
        git.Repo.init(self.upstream_dir, bare=True, initial_branch=branch)
        self.author = git.Repo.init(self.author_dir, initial_branch=branch)
        with self.author.config_writer() as config:
            config.set_value("user", "name", "aipep sample")
            config.set_value("user", "email", "sample@aipep.invalid")
        self.author.create_remote("origin", str(self.upstream_dir))
        self._count = 0

    @property
    def source(self) -> Path:
        return self.author_dir / SOURCE

    def commit(
        self,
        subject: str,
        *,
        units: dict[str, int] | None = None,
        broken: bool = False,
        note: str | None = None,
    ) -> str:
        """Commit and push one change; `units` sets operators' default work (e.g. {"CONV": 140})."""
        if not self.source.exists():
            shutil.copy(SOURCE_DIR / SOURCE, self.source)
        text = self.source.read_text().replace(BREAKAGE, "")
        for operator, value in (units or {}).items():
            text, found = re.subn(rf"#define {operator}_UNITS \d+", f"#define {operator}_UNITS {value}", text)
            if found != 1:
                raise ValueError(f"units: expected an operator of {SOURCE}, got {operator}")
        self.source.write_text(text + (BREAKAGE if broken else ""))
        notes = self.author_dir / "NOTES.md"
        with notes.open("a") as stream:
            stream.write(f"- {note or subject}\n")
        self.author.index.add([SOURCE, "NOTES.md"])
        stamp = f"{FIRST_COMMIT_TIME + self._count * SECONDS_BETWEEN_COMMITS} +0000"
        self._count += 1
        self.author.git.commit("-m", subject, env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp})
        # Forced, so that commits after rewind() rewrite upstream's history as a force-push does.
        self.author.git.push("--force", "origin", self.branch)
        return self.author.head.commit.hexsha

    def rewind(self, commit_hash: str) -> None:
        """Move the branch back; the next commit then replaces what came after on upstream."""
        self.author.git.reset("--hard", commit_hash)

    def clone(self) -> Path:
        """The checkout the driver follows, made once, after the first push."""
        if not self.checkout_dir.exists():
            git.Repo.clone_from(str(self.upstream_dir), self.checkout_dir, branch=self.branch)
        return self.checkout_dir
