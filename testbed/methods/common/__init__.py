"""What every method shares: the node setup, the worker's common operations, calibration timing,
wire sizes, and the evaluator -- kept apart from any one method so none borrows from another."""
