"""The grader: plans cases (parent), runs student code (child), judges plain data (parent)."""
