"""The driver's progress, one module per concern, over the tables it owns in the results database.

The harness's store owns runs and their samples; the driver owns what it adds: the queue
of commits and their states, build attempts, which stored run played which role, the
regressions being verified or bisected, bisection steps and slow-creep alerts.
"""
