"""The OpenAI dialect: Chat Completions, legacy Completions and Embeddings."""
