"""DocuMind validate service: human validation of low-confidence results."""
