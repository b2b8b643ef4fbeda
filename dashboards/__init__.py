"""Keynode's Streamlit review board. ``app.py`` is the entry point; ``data.py`` holds every query."""
