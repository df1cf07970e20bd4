"""Site-impact service: which households each construction site affects, and how badly."""

__version__ = "0.1.0"
