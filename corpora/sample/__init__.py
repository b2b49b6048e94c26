"""The bundled CC0 sample corpus (data only)."""
