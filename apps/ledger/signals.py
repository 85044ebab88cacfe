"""What the ledger tells other apps, without knowing them."""

from django.dispatch import Signal

# Sent in the indexing transaction after blocks of a log were indexed, this node's own or a
# followed one, with log_id and rows: (block index, key, entry type, is deletion) in block order.
book_entries_indexed = Signal()
