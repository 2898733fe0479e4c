"""Reflex pages, states and components, grouped by surface."""
