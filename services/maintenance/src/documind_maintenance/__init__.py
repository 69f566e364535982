"""DocuMind maintenance service: periodic jobs that keep the system clean and unstuck."""
