"""Executors: where node states live and where their calls really run (in process, batched; the Ray
executor registers itself from testbed.runtime).

Why a package: the engine dispatches work through this interface and never sees how or where it runs.
"""
