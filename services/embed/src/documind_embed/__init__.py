"""DocuMind embed service: vectors for chunks (and, later, classes, entities, sentiment)."""
