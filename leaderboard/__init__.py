"""reasonvos.leaderboard: results store, reported numbers, tables, plots and the web page."""
