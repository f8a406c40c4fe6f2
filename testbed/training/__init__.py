"""Single-machine training loops (the reference every distributed algorithm is compared with)."""
