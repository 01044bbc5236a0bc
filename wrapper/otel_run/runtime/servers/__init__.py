"""One small adapter per server or worker model that needs one; none knows another."""
