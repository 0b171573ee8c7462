"""Live state: what the API says an instance looks like now, as frozen values parsed from raw responses."""
