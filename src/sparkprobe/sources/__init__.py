"""Sources of events: the live wire decoder and the Spark event-log reader."""
