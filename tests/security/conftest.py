from tests.integration.conftest import platform

__all__ = ["platform"]
