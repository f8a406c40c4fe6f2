"""Ray at the edge: the only package that imports ``ray``.

Everything else (engine, network, algorithms) is pure and runs on the in-process
executor; this package supplies the same :class:`~testbed.executor.Executor`
interface backed by Ray actors, plus cluster start-up helpers.
"""
