"""The reference counter client: what a window clerk's app does, over gRPC only."""
