"""Storage layer: settings, embedded services, PostgreSQL (Tortoise), MongoDB, Redis.

Imports nothing else of ClubHoloHub; every other layer imports it.
"""
