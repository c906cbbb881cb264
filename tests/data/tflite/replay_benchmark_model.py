"""Stand-in for TFLite's benchmark_model in tests: it REPLAYS recorded output, it measures nothing.

Accepts benchmark_model's flags, checks that --graph names an existing file,
and prints the recorded sample next to this script.
"""

import sys
from pathlib import Path

graph = next((arg.split("=", 1)[1] for arg in sys.argv[1:] if arg.startswith("--graph=")), "")
if not Path(graph).is_file():
    print(f"ERROR: --graph={graph}: no such file", file=sys.stderr)
    sys.exit(1)
sys.stdout.write(Path(__file__).with_name("benchmark_model_op_profiling.txt").read_text())
