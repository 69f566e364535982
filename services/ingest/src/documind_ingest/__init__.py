"""DocuMind ingest service: validate an upload, extract its text, chunk it, hand it on."""
