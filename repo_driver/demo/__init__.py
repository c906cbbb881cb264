"""The demo a user runs to see the driver at work (`python -m repo_driver.demo`), and the sample
repository it follows; the tests and the throughput benchmark use that repository too. Nothing
of the service itself lives here."""
