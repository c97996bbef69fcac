def estimate_tokens(text: str) -> int:
    """placeholder"""
    return (len(text.encode()) + 3) // 4 if text else 0
