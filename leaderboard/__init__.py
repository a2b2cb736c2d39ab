"""reasonvos.leaderboard: results store, reported numbers, tables, plots and the web page."""

#: the per-sample browser's thumbnail budget: samples per benchmark, frames per sample (declared
#: here, free of imaging imports, so that the command line can show them in its help)
BROWSE_SAMPLES = 24
BROWSE_FRAMES = 4
