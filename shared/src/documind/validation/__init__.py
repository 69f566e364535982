"""Human validation of low-confidence chunks: tasks (``tasks``), validators and assignment
(``validators``, ``assignment``), answers, agreement and batches (``answers``) and training
data (``export``). The database is the queue: the validate service's actor opens tasks from
``ReviewChunks``; the CLI (a person) takes and answers them directly against the database,
so no worker round trip stands between a validator and the next task."""
