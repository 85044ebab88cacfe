"""Ledger: public books as Hypercore-compatible signed logs."""
