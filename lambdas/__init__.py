"""The relay's Lambda code: one importable package shared by every function (handlers, providers, delivery, store)."""
