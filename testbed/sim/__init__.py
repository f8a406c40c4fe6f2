"""The virtual-time simulation every message's time passes through: the engine, the flow network, max-min
sharing, TCP, link schedules, node clocks, the compute model and the traffic accountant.

Why a package: everything that decides *when* lives here, apart from what computes *what* (the methods
and the executors).
"""
