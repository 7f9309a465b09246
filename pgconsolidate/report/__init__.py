"""Renderers: the same models shown as rich tables, PR-ready Markdown or JSON."""
