"""The embedded SQLite database: results with every sample, and the repo driver's progress."""
