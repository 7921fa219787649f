"""workloads: the model zoo and microbenchmarks, written with the framework."""
