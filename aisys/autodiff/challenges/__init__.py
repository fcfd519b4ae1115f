"""Lab 03 `ad-challenges`: AD on real programs — demo and checks."""
