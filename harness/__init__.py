"""One benchmark run: specs, model cache, A/B runner, statistics, reporters, store."""
