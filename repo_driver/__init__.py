"""The long-running service: follow a framework's repository, build each new commit, A/B it, name culprits."""
