"""Foundations every layer uses: errors, units, checked fields, registries, file and YAML I/O,
payload sizes and tree walks, provenance.

Why a package: these modules import nothing else of the testbed, so anything may import them.
"""
