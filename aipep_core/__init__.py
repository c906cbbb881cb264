"""The shared vocabulary of aipep: errors, user directories, the benchmark spec, the job and the result record.

Every other package (frameworks, platforms, harness, repo_driver, server) speaks these
types; this package imports none of them back, so the flow stays one-way
(tests/test_import_directions.py keeps it so).
"""
