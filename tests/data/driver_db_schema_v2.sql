-- A database the repo driver wrote before its commits and builds tables moved from the harness's
-- store into repo_driver.state (schema version 2): five commits, a build, a baseline and a benchmark
-- run, a regression being bisected with one step. Read by tests/test_repo_driver_state.py.
PRAGMA user_version = 2;
BEGIN TRANSACTION;
CREATE TABLE builds (
    id INTEGER PRIMARY KEY,
    commit_id INTEGER NOT NULL REFERENCES commits (id) ON DELETE CASCADE,
    platform TEXT NOT NULL,
    status TEXT NOT NULL,
    program TEXT,
    log TEXT,
    started REAL,
    ended REAL
);
INSERT INTO "builds" VALUES(1,3,'host','built','/exec/c/program','ok',1.0,2.0);
CREATE TABLE commits (
    id INTEGER PRIMARY KEY,
    repo TEXT NOT NULL,
    framework TEXT NOT NULL,
    hash TEXT NOT NULL,
    commit_time REAL,
    subject TEXT,
    state TEXT NOT NULL CHECK (state IN ('queued', 'building', 'built', 'build_failed', 'benchmarking', 'done', 'regressed')),
    updated_at REAL NOT NULL,
    UNIQUE (repo, framework, hash)
);
INSERT INTO "commits" VALUES(1,'repo','microkernel','aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',1000.0,'commit 0','done',1.79613514243505764007e+09);
INSERT INTO "commits" VALUES(2,'repo','microkernel','bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',1001.0,'commit 1','regressed',1.79613514243527245522e+09);
INSERT INTO "commits" VALUES(3,'repo','microkernel','cccccccccccccccccccccccccccccccccccccccc',1002.0,'commit 2','built',1.79613514243545246127e+09);
INSERT INTO "commits" VALUES(4,'repo','microkernel','dddddddddddddddddddddddddddddddddddddddd',1003.0,'commit 3','queued',1.79613514243464183813e+09);
INSERT INTO "commits" VALUES(5,'repo','microkernel','eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee',1004.0,'bisect step','queued',1.79613514243485808373e+09);
CREATE TABLE comparisons (
    run TEXT NOT NULL,
    key TEXT NOT NULL,
    estimate_pct REAL,
    ci_low_pct REAL,
    ci_high_pct REAL,
    p_value REAL,
    q_value REAL,
    rounds INTEGER,
    verdict TEXT,
    document TEXT NOT NULL,
    PRIMARY KEY (run, key),
    FOREIGN KEY (run, key) REFERENCES metrics (run, key) ON DELETE CASCADE
);
INSERT INTO "comparisons" VALUES('010360d81f214d858903920cc74563ae','Conv latency',30.0,NULL,NULL,NULL,NULL,NULL,'regression','{"estimate_pct": 30.0, "verdict": "regression"}');
CREATE TABLE devices (
    id INTEGER PRIMARY KEY,
    platform TEXT NOT NULL,
    identifier TEXT NOT NULL,
    description TEXT NOT NULL,
    UNIQUE (platform, identifier)
);
CREATE TABLE driver_bisect_steps (
    regression_id INTEGER NOT NULL REFERENCES driver_regressions (id), step INTEGER NOT NULL,
    hash TEXT NOT NULL, outcome TEXT NOT NULL, run_id TEXT,
    PRIMARY KEY (regression_id, step)
);
INSERT INTO "driver_bisect_steps" VALUES(1,0,'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee','skip',NULL);
CREATE TABLE driver_commits (
    repo TEXT NOT NULL, framework TEXT NOT NULL, hash TEXT NOT NULL,
    position INTEGER NOT NULL, role TEXT NOT NULL, orphaned INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (repo, framework, hash)
);
INSERT INTO "driver_commits" VALUES('repo','microkernel','aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',0,'main',0);
INSERT INTO "driver_commits" VALUES('repo','microkernel','bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',1,'main',0);
INSERT INTO "driver_commits" VALUES('repo','microkernel','cccccccccccccccccccccccccccccccccccccccc',2,'main',0);
INSERT INTO "driver_commits" VALUES('repo','microkernel','dddddddddddddddddddddddddddddddddddddddd',3,'main',0);
INSERT INTO "driver_commits" VALUES('repo','microkernel','eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee',4,'bisect',0);
CREATE TABLE driver_creep (
    repo TEXT NOT NULL, framework TEXT NOT NULL, platform TEXT NOT NULL, identifier TEXT NOT NULL,
    key TEXT NOT NULL, change_hash TEXT NOT NULL, shift_pct REAL NOT NULL, detected_at REAL NOT NULL,
    PRIMARY KEY (repo, framework, platform, identifier, key, change_hash)
);
CREATE TABLE driver_cursor (
    repo TEXT NOT NULL, framework TEXT NOT NULL, last_hash TEXT NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (repo, framework)
);
INSERT INTO "driver_cursor" VALUES('repo','microkernel','dddddddddddddddddddddddddddddddddddddddd',1.79613514243782734867e+09);
CREATE TABLE driver_regressions (
    id INTEGER PRIMARY KEY, repo TEXT NOT NULL, framework TEXT NOT NULL, platform TEXT NOT NULL,
    good_hash TEXT NOT NULL, bad_hash TEXT NOT NULL, state TEXT NOT NULL, keys TEXT NOT NULL,
    culprit_hash TEXT, estimates TEXT, opened_at REAL NOT NULL, updated_at REAL NOT NULL
);
INSERT INTO "driver_regressions" VALUES(1,'repo','microkernel','host','aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa','bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb','bisecting','[["t", "Conv latency"]]',NULL,'{"t|Conv latency": 30.0}',1.79613514243703770636e+09,1.7961351424373993874e+09);
CREATE TABLE driver_runs (
    run_id TEXT PRIMARY KEY, repo TEXT NOT NULL, framework TEXT NOT NULL, platform TEXT NOT NULL,
    hash TEXT NOT NULL, control_hash TEXT, role TEXT NOT NULL, ok INTEGER NOT NULL, saved_at REAL NOT NULL
);
INSERT INTO "driver_runs" VALUES('f35b25a53077401da64ceb78519b216b','repo','microkernel','host','aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',NULL,'baseline',1,1.79613514243636393551e+09);
INSERT INTO "driver_runs" VALUES('010360d81f214d858903920cc74563ae','repo','microkernel','host','bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb','aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa','benchmark',1,1.79613514243703246116e+09);
CREATE TABLE logs (
    run TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (run, name)
);
CREATE TABLE metrics (
    run TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    position INTEGER NOT NULL,
    type TEXT NOT NULL,
    metric TEXT NOT NULL,
    unit TEXT NOT NULL,
    num_runs INTEGER NOT NULL,
    from_tool_summary INTEGER NOT NULL,
    op_type TEXT,
    summary TEXT NOT NULL,
    control_summary TEXT,
    diff_summary TEXT,
    values_count INTEGER NOT NULL,
    control_values_count INTEGER,
    round_values_count INTEGER,
    control_round_values_count INTEGER,
    PRIMARY KEY (run, key)
);
INSERT INTO "metrics" VALUES('f35b25a53077401da64ceb78519b216b','Conv latency',0,'Conv','latency','us',1,0,NULL,'{"p50": 1.0}',NULL,NULL,1,NULL,NULL,NULL);
INSERT INTO "metrics" VALUES('010360d81f214d858903920cc74563ae','Conv latency',0,'Conv','latency','us',1,0,NULL,'{"p50": 1.0}',NULL,NULL,1,NULL,NULL,NULL);
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    failure TEXT,
    model TEXT,
    identifier TEXT,
    platform TEXT,
    device_id INTEGER REFERENCES devices (id),
    framework TEXT,
    commit_hash TEXT,
    control_commit_hash TEXT,
    run_type TEXT,
    started REAL,
    ended REAL,
    saved_at REAL NOT NULL,
    meta TEXT NOT NULL
);
INSERT INTO "runs" VALUES('f35b25a53077401da64ceb78519b216b','success',NULL,NULL,'t',NULL,NULL,NULL,'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',NULL,NULL,NULL,NULL,1.7961351424360296726e+09,'{"identifier": "t", "commit": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "driver_role": "baseline"}');
INSERT INTO "runs" VALUES('010360d81f214d858903920cc74563ae','success',NULL,NULL,'t',NULL,NULL,NULL,'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',NULL,NULL,NULL,NULL,1.79613514243673133845e+09,'{"identifier": "t", "commit": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "driver_role": "benchmark"}');
CREATE TABLE samples (
    run TEXT NOT NULL,
    key TEXT NOT NULL,
    arm TEXT NOT NULL CHECK (arm IN ('treatment', 'control')),
    series TEXT NOT NULL CHECK (series IN ('iteration', 'round')),
    position INTEGER NOT NULL,
    value REAL,
    PRIMARY KEY (run, key, arm, series, position),
    FOREIGN KEY (run, key) REFERENCES metrics (run, key) ON DELETE CASCADE
);
INSERT INTO "samples" VALUES('f35b25a53077401da64ceb78519b216b','Conv latency','treatment','iteration',0,1.0);
INSERT INTO "samples" VALUES('010360d81f214d858903920cc74563ae','Conv latency','treatment','iteration',0,1.0);
CREATE INDEX commits_by_state ON commits (repo, framework, state, commit_time);
CREATE INDEX builds_by_commit ON builds (commit_id, platform);
CREATE INDEX runs_by_test ON runs (model, identifier, platform, commit_hash);
CREATE VIEW verdicts AS
    SELECT runs.id AS run, runs.model, runs.identifier, runs.platform, runs.framework,
           runs.commit_hash, runs.control_commit_hash, runs.run_type, runs.started,
           comparisons.key, comparisons.estimate_pct, comparisons.ci_low_pct, comparisons.ci_high_pct,
           comparisons.p_value, comparisons.q_value, comparisons.rounds, comparisons.verdict
    FROM comparisons JOIN runs ON runs.id = comparisons.run;
CREATE INDEX driver_runs_by_commit ON driver_runs (repo, framework, hash, platform, role);
COMMIT;
