"""Funding: investors, commitments, distributions and returns."""
