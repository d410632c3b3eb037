"""Command-line tools of hardnet."""
