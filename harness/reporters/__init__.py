"""Where finished results go: the screen, files, the embedded database."""
