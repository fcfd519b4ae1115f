"""Lab 02 `autodiff`: forward and reverse mode — demo and checks."""
