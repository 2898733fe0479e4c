"""HTTP routes served beside the pages on the same port (mounted via api_transformer)."""
