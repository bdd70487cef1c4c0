"""The corpus index: chunking reports, offline embeddings, the hybrid BM25 + vector index (local files with embedded Chroma, or a Chroma server) and the LangChain retriever."""
