"""DocuMind embed service: vectors for chunks, and the classification of completed documents."""
