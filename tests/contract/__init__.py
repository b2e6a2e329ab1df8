"""Descript's API contract, carried in the repository: the data (descript-api.json), how it
is made from the reference (build.py), and the checker of recorded traffic (check.py)."""
