"""What projects tell other apps (funding), without knowing them."""

from django.dispatch import Signal

# Sent in the closing transaction, with project and reason (a CloseReason), whenever a project
# closes: by hand, by its end date, or by reaching its target.
project_closed = Signal()
