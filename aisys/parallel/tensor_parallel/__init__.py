"""Lab 08 bench: dense references, torch's own tensor parallelism to compare with, checks, demo."""
