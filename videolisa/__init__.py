"""reasonvos.videolisa: the VideoLISA model (needs the ``models`` extra: torch, transformers, SAM)."""
