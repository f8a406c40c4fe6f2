"""One experiment: its spec (the YAML, resolved), the Run that trains it behind the Session, launching
it, and its results directory.

Why a package: the orchestration of a single run sits above the methods and below suites and the CLI.
"""
