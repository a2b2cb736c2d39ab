"""One loader per benchmark format; each returns a :class:`reasonvos.model.Benchmark`."""
