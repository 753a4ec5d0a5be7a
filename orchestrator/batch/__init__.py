"""The batch runner: a JSONL file of chat jobs in, Groq batch output out, resumable; on one machine or shared through Redis."""
