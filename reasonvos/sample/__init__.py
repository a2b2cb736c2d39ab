"""The embedded sample benchmark: seeded, procedurally rendered, in the ReasonVOS layout."""
