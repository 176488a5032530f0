"""AI features on OpenAI (chat, translation, sentiment, contact parsing, scripts, transcription, call analysis)."""
