"""Platforms: how to reach a device, put files on it and run a command there."""

from platforms.registry import available_platforms, get_platform, register_platform

__all__ = ["available_platforms", "get_platform", "register_platform"]
