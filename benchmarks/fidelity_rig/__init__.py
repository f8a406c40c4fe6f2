"""Helpers of benchmarks/fidelity.py: the namespace rig, its TUN delay forwarder, TCP endpoints, the grid."""
