"""Lab 07 (data parallelism): toy models and data, checks, demo and benchmark helpers."""
