"""The QA rules behind `agent check`, one module per source of evidence; tools.documents.check runs them."""
