"""Wire dialects: pure parsing and rendering of each API format, used in both directions."""
