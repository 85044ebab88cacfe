"""The discovery protocol in plain Python (no Django): signed node records and claims, the frame
format, and SWIM membership with the Lifeguard refinements. docs/protocol.md describes the wire."""
