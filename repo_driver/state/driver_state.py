"""One connection's view of the driver's progress for one (repository, framework): each concern's tables."""

from __future__ import annotations

from harness.store.result_store import ResultStore
from repo_driver.state.bisect_steps import BisectSteps
from repo_driver.state.builds import BuildRecords
from repo_driver.state.creep_alerts import CreepAlerts
from repo_driver.state.queue import CommitQueue
from repo_driver.state.regressions import Regressions
from repo_driver.state.runs import DriverRuns
from repo_driver.state.tables import create_tables


class DriverState:
    def __init__(self, store: ResultStore, repo: str, framework: str) -> None:
        self.db = store.db
        create_tables(self.db)
        self.queue = CommitQueue(self.db, repo, framework)
        self.builds = BuildRecords(self.db, repo, framework)
        self.runs = DriverRuns(store, repo, framework)
        self.regressions = Regressions(self.db, repo, framework)
        self.bisect_steps = BisectSteps(self.db)
        self.creep_alerts = CreepAlerts(self.db, repo, framework)
