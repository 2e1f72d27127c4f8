"""Inference shaping: OpenAI embeddings and OIP v2 requests checked and converted, explanation charts."""
