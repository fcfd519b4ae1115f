"""aisys: hands-on labs for the internals of AI frameworks."""
__version__ = "0.1.0"
