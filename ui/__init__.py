"""Quire's web app views. `app.py` is the entry point; each module here is one page or one part."""
