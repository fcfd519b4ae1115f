"""Labs 02-03: automatic differentiation — the bench (programs, op counters, memory meters)."""
