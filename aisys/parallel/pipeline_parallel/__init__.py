"""Lab 09: pipeline parallelism (stages, schedules, a runner on real ranks)."""
