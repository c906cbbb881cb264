"""Android devices over ADB: the platform, and a loopback device that speaks the protocol for tests."""

from platforms.android.platform import AndroidPlatform

__all__ = ["AndroidPlatform"]
