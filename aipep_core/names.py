"""Names every part spells the same way: they are keys in results, the store and the server.

A result's `data` is keyed "<type> <metric>", and the whole network's type is NET (FAI-PEP's
spelling); an A/B run's two arms are the treatment (the commit under test) and the control.
"""

NET = "NET"
TREATMENT = "treatment"
CONTROL = "control"
