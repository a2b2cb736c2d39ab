"""Fixture writers: each produces a small dataset in one benchmark's exact on-disk format."""
