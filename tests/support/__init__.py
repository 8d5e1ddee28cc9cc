"""Helpers shared by the test tiers (tests/unit, tests/integration, tests/e2e). A test module imports
from here, never from another test module; fixtures live in tests/conftest.py."""
