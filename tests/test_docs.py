"""What the docs quote is what aisys prints: the README's tour is regenerated and compared."""
from __future__ import annotations

import importlib.util

import pytest

from conftest import REPO


@pytest.mark.slow
def test_the_readme_tour_is_current():
    spec = importlib.util.spec_from_file_location("tour", REPO / "docs" / "tour.py")
    tour = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tour)
    current = (REPO / "README.md").read_text(encoding="utf-8")
    assert tour.update(current) == current, "README.md's tour is stale: run python docs/tour.py --write"
