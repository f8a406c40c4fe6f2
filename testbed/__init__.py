"""geo-GAN testbed: emulate geo-distributed GAN training on a modelled WAN.

Ray moves the bytes and runs the compute; a virtual clock decides the time
(see docs/design.md §2).  This package is the pure core; only
``testbed.runtime`` imports Ray.
"""

__version__ = "0.1.0"
