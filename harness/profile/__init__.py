"""`aipep-profile`: every model of a spec list at every resource constraint, ranked, with a fitted latency curve."""
