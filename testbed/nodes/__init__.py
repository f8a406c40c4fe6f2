"""Node states: what lives on an executor for each logical node.

Algorithms only ever name a node and a method; these classes are the methods.
They hold torch models, optimiser state, data shards and RNGs, never touch the
network or the clock, and are built from a picklable :class:`~testbed.nodes.setup.NodeSetup`
so the same code runs in-process and inside Ray actors (on CPU or CUDA).
"""
