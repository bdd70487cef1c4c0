"""Writing files: the GB/T 9704 Word writer, the checked-draft HTML, the draft files (.md/.json/.docx/.html) and the batch summaries. Writes are atomic (`pipeline.fsutil`)."""
