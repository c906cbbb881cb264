"""Reports people open offline: one HTML file or a Markdown file with PNG figures, from result records.

Everything here reads `aipep_core` records and nothing else of ours, so the harness (which
writes a report as each run finishes) and the results server (which serves the same report)
both build on it without pulling each other in.
"""
