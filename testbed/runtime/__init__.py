"""Ray at the edge: the only package that imports ``ray``.

Everything else (engine, network, methods) is pure and runs on the in-process executor; this package
supplies the same :class:`~testbed.exec.executor.Executor` interface backed by Ray actors, plus cluster
start-up helpers and the ``ray`` suite backend.  Importing it registers both under the name ``ray``
(testbed.exec.backends.EXECUTOR_BACKENDS, testbed.suite.backends.BACKENDS): the layers below never
import Ray, not even lazily; the command line imports this package when a run or a suite asks for Ray.
"""

from testbed.runtime import register as _register  # noqa: F401  (registers the 'ray' backends)
