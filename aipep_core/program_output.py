"""The line prefixes a benchmark program marks its measurements with.

A program reports each measurement as `<PREFIX> {json}`. FAI-PEP's programs print the
first two; ours prints the last. The parser (frameworks) and the output capture that must
never drop a measurement line (platforms) both need the list, so it is part of the contract.
"""

PREFIXES = ("PyTorchObserver", "Caffe2Observer", "AIPEP")
