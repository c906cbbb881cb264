"""A stand-in Android phone for dry runs and tests, apart from the real platform code.

It speaks the ADB wire protocol over TCP, so the real platform and Debian's adb reach it
as they reach a phone over Wi-Fi (see platforms/android/README.md). Start it with
`python -m platforms.android.loopback`; tests start it through process.LoopbackDevice.
"""
