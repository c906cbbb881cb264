"""The device lab: benchmark jobs sent through a Celery broker to workers on the hosts the devices are plugged into."""
