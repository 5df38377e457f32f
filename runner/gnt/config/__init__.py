"""The cluster configuration store (``config.data``)."""

from gnt.config.store import ConfigStore

__all__ = ["ConfigStore"]
