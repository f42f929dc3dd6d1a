"""tutor: a terminal tutor that explains any topic and revises from your feedback."""

__version__ = "0.1.0"
