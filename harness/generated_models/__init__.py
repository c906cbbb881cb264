"""Reference models the project writes itself, since no model hub is reachable.

A spec names one with the location `generated://<name>`; the model cache asks
the generator registered under that name to write the file. Generators must be
deterministic (same bytes, so the same md5, every time).
"""

from harness.generated_models.registry import available_models, generate_model, register_generator

__all__ = ["available_models", "generate_model", "register_generator"]
