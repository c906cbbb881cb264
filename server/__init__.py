"""The results server: one place where every device's results arrive, are queried and are looked at."""
