"""The cluster configuration store (``config.data``)."""

from .store import ConfigStore

__all__ = ["ConfigStore"]
