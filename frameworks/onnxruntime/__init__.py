"""The onnxruntime framework: a shipped benchmark script and the plug-in that runs it."""
