"""Discovery: TCP gossip membership of Growr nodes."""
