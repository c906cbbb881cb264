"""Android devices over ADB; the platform lives in platform.py, the stand-in phone in loopback/.

Nothing is imported here, so the loopback phone (which needs no adb-shell) and the
platform's helpers load without the android extra; the registry imports platform.py.
"""
