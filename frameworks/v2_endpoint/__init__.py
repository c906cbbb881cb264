"""The v2_endpoint framework: a shipped client program that times a serving endpoint, and its plug-in."""
