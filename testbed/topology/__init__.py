"""The WAN a run is emulated on: the frozen Topology, its YAML schema, per-node dynamics, its drawing.

Why a package: a topology is parsed once and read by every layer above; it imports only testbed.core.
"""
