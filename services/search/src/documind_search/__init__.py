"""DocuMind search service: owns Qdrant — index updates, deletions and queries."""
