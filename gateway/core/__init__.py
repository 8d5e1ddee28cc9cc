"""Process-wide services used by actions and transports: tokens, rate limits, mail, backends, metrics, logs."""
